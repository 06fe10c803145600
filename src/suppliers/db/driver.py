"""Statements sent straight to the asyncpg connection that SQLAlchemy's pool checked out.

For the few statements of the hot path (a stock movement, a product by id), SQLAlchemy's own
execution (compiled-cache lookup, parameter processing, result rows) costs more CPU than the
round trip; asyncpg prepares and caches the statement itself. The connection still comes from, and
goes back to, SQLAlchemy's pool, and the asyncpg instrumentation still traces each statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection


async def _driver(connection: AsyncConnection) -> asyncpg.Connection:
    raw = await connection.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    return driver


async def _invalidate_if_broken(connection: AsyncConnection, driver: asyncpg.Connection) -> None:
    # SQLAlchemy does not see errors raised past it: a connection the server closed (a restart)
    # would go back to the pool and fail the next request too.
    if driver.is_closed():
        await connection.invalidate()


async def fetchrow(connection: AsyncConnection, sql: str, *args: Any) -> asyncpg.Record | None:
    driver = await _driver(connection)
    try:
        return await driver.fetchrow(sql, *args)
    except BaseException:
        await _invalidate_if_broken(connection, driver)
        raise


async def fetch(connection: AsyncConnection, sql: str, *args: Any) -> Sequence[asyncpg.Record]:
    driver = await _driver(connection)
    try:
        rows: Sequence[asyncpg.Record] = await driver.fetch(sql, *args)
        return rows
    except BaseException:
        await _invalidate_if_broken(connection, driver)
        raise


async def fetchrow_alone(connection: AsyncConnection, sql: str, *args: Any) -> asyncpg.Record | None:
    """``fetchrow`` for a statement whose refusal the caller handles and carries on from.

    In autocommit (every request) the statement is its own transaction already. Inside a caller's
    transaction (the per-test transactions of tests/inventory, a batch) it runs under a savepoint,
    so a refused statement is undone alone instead of aborting everything around it.
    """
    driver = await _driver(connection)
    if not driver.is_in_transaction():
        return await fetchrow(connection, sql, *args)
    try:
        async with driver.transaction():
            return await driver.fetchrow(sql, *args)
    except BaseException:
        await _invalidate_if_broken(connection, driver)
        raise
