"""Engine and session factory, built once by the composition root."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from suppliers.db.urls import sqlalchemy_url
from suppliers.settings import ConfigurationError, Settings


class CountingQueuePool(AsyncAdaptedQueuePool):
    """The usual async pool, which also counts the checkouts that gave up waiting (telemetry reads it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeouts = 0

    def _do_get(self) -> Any:
        try:
            return super()._do_get()
        except sa_exc.TimeoutError:
            self.timeouts += 1
            raise

    def recreate(self) -> CountingQueuePool:
        # After a disconnect SQLAlchemy swaps in a fresh pool; the count must survive the swap.
        fresh = super().recreate()
        assert isinstance(fresh, CountingQueuePool)
        fresh.timeouts = self.timeouts
        return fresh


# SQLAlchemy names a pool's logger after its class's module: this one would land in the app's own
# `suppliers` tree, whose INFO records go to the console and over OTLP ("Pool disposed" ...).
logging.getLogger(f"{__name__}.{CountingQueuePool.__name__}").setLevel(logging.WARNING)


def create_engine(settings: Settings) -> AsyncEngine:
    if settings.database_url is None:
        raise ConfigurationError(
            "DATABASE_URL is not set (the CLI starts an embedded server when it is missing)"
        )
    return create_async_engine(
        sqlalchemy_url(settings.database_url),
        poolclass=CountingQueuePool,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        # Short: under overload a request that cannot get a connection soon gets a 503 with
        # Retry-After, instead of queueing for seconds and taking everyone's latency with it.
        pool_timeout=settings.db_pool_timeout,
        # No pre-ping: it costs three round trips (BEGIN, ping, ROLLBACK) on every checkout. A
        # connection that died with a server restart fails its first use instead; SQLAlchemy then
        # drops the whole pool, the request gets a 503 with Retry-After, the next one reconnects.
        pool_pre_ping=False,
        # A server-side statement timeout keeps a stuck query from holding a pooled connection forever.
        connect_args={"server_settings": {"application_name": "suppliers-api"}, "command_timeout": 30},
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Services commit explicitly and then serialise the rows they returned: nothing may expire.
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
