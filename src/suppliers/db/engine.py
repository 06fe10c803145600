"""Engine and session factory, built once by the composition root."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from suppliers.settings import ConfigurationError, Settings


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.async_database_url
    if url is None:
        raise ConfigurationError(
            "DATABASE_URL is not set (the CLI starts an embedded server when it is missing)"
        )
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
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
