"""Connection-pool usage as the database client semantic conventions name it."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.metrics import CallbackOptions, Meter, Observation
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

STATE = "db.client.connection.state"
POOL_NAME = "db.client.connection.pool.name"


def observe_pool(meter: Meter, engine: AsyncEngine, *, max_overflow: int) -> None:
    """Report used/idle connections and the pool's ceiling, read from the pool at collection time."""
    pool = engine.sync_engine.pool
    if not isinstance(pool, QueuePool):
        return
    url = engine.url
    name = {POOL_NAME: f"{url.host}:{url.port or 5432}/{url.database}"}

    def counts(_: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(pool.checkedout(), {**name, STATE: "used"}),
            Observation(pool.checkedin(), {**name, STATE: "idle"}),
        ]

    def ceiling(_: CallbackOptions) -> Iterable[Observation]:
        return [Observation(pool.size() + max_overflow, name)]

    meter.create_observable_up_down_counter(
        "db.client.connection.count",
        callbacks=[counts],
        unit="{connection}",
        description="Connections in the pool, by state",
    )
    meter.create_observable_up_down_counter(
        "db.client.connection.max",
        callbacks=[ceiling],
        unit="{connection}",
        description="The most connections the pool will open",
    )
