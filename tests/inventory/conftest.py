"""A connection whose every change is rolled back after the test: repositories and services are
tested on the real database in milliseconds, with no server process and nothing left behind."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from suppliers.db.engine import create_engine
from suppliers.settings import Settings
from tests.rows import MakeProduct, MakeVendor, product_maker, vendor_maker

# The rolled-back connection's factories are the session's (tests/rows.py), by these names.
AddVendor = MakeVendor
AddProduct = MakeProduct


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(Settings(database_url=database_url))
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as connection:
        await connection.begin()
        # SQLAlchemy sends BEGIN with its first statement; the repositories' hot statements go to the
        # driver directly and would otherwise run, and commit, outside the transaction.
        await connection.execute(text("SELECT 1"))
        yield connection
        await connection.rollback()


@pytest.fixture
def add_vendor(connection: AsyncConnection) -> MakeVendor:
    return vendor_maker(lambda sql, args: connection.exec_driver_sql(sql, tuple(args)))


@pytest.fixture
def add_product(connection: AsyncConnection) -> MakeProduct:
    return product_maker(lambda sql, args: connection.exec_driver_sql(sql, tuple(args)))


async def stock(connection: AsyncConnection, product_id: uuid.UUID) -> int:
    found = await connection.scalar(text("SELECT quantity FROM products WHERE id = :id"), {"id": product_id})
    assert found is not None
    return int(found)
