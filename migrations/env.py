"""Alembic environment: async engine, our metadata, PostgreSQL type comparison on."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from suppliers.db.models import Base
from suppliers.db.urls import sqlalchemy_url
from suppliers.settings import ConfigurationError, Settings

config = context.config
target_metadata = Base.metadata
# pg_advisory_xact_lock key of a migration run. Replicas that start together (the API's init
# containers on Kubernetes) migrate one at a time: the second waits, then finds the schema at head.
MIGRATION_LOCK_KEY = 0x5355_5050_4D49_4752  # "SUPPMIGR"


def _url() -> str:
    given = config.attributes.get("database_url")
    if given:
        return str(given)
    url = Settings.from_env().database_url
    if not url:
        raise ConfigurationError("DATABASE_URL is not set: migrations need a database to run against")
    return sqlalchemy_url(url)


def _configure(connection: Connection | None = None, **kwargs: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=False,
        **kwargs,  # type: ignore[arg-type]
    )


def run_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


async def run_online() -> None:
    engine = create_async_engine(_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    asyncio.run(run_online())
