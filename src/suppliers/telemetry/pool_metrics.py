"""Connection-pool usage as the database client semantic conventions name it."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.metrics import CallbackOptions, Meter, Observation
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

STATE = "db.client.connection.state"
POOL_NAME = "db.client.connection.pool.name"


def observe_pool(meter: Meter, engine: AsyncEngine, *, max_overflow: int) -> None:
    """Report used/idle connections, the pool's ceiling and its checkout timeouts, read at collection."""
    url = engine.url
    name = {POOL_NAME: f"{url.host}:{url.port or 5432}/{url.database}"}

    def pool() -> QueuePool | None:
        # Read each time: engine.dispose() replaces the pool object.
        current = engine.sync_engine.pool
        return current if isinstance(current, QueuePool) else None

    def counts(_: CallbackOptions) -> Iterable[Observation]:
        if (current := pool()) is None:
            return []
        return [
            Observation(current.checkedout(), {**name, STATE: "used"}),
            Observation(current.checkedin(), {**name, STATE: "idle"}),
        ]

    def ceiling(_: CallbackOptions) -> Iterable[Observation]:
        current = pool()
        return [] if current is None else [Observation(current.size() + max_overflow, name)]

    def timeouts(_: CallbackOptions) -> Iterable[Observation]:
        current = pool()
        return [Observation(getattr(current, "timeouts", 0), name)]

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
    meter.create_observable_counter(
        "db.client.connection.timeouts",
        callbacks=[timeouts],
        unit="{timeout}",
        description="Requests that gave up waiting for a free connection (answered 503, busy)",
    )
