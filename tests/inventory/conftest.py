"""A connection whose every change is rolled back after the test: repositories and services are
tested on the real database in milliseconds, with no server process and nothing left behind."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from suppliers.db.engine import create_engine
from suppliers.settings import Settings

AddVendor = Callable[..., Awaitable[uuid.UUID]]
AddProduct = Callable[..., Awaitable[uuid.UUID]]


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
def add_vendor(connection: AsyncConnection) -> AddVendor:
    async def add(qualification: str = "A") -> uuid.UUID:
        vendor_id = uuid.uuid4()
        await connection.execute(
            text("INSERT INTO vendors (id, qualification) VALUES (:id, :q)"),
            {"id": vendor_id, "q": qualification},
        )
        return vendor_id

    return add


@pytest.fixture
def add_product(connection: AsyncConnection) -> AddProduct:
    async def add(quantity: int = 100, required: str = "C", name: str | None = None) -> uuid.UUID:
        product_id = uuid.uuid4()
        await connection.execute(
            text(
                "INSERT INTO products (id, name, price, quantity, required_qualification) "
                "VALUES (:id, :name, :price, :quantity, :required)"
            ),
            {
                "id": product_id,
                "name": name or f"layer test {product_id.hex[:8]}",
                "price": Decimal("1.50"),
                "quantity": quantity,
                "required": required,
            },
        )
        return product_id

    return add


async def stock(connection: AsyncConnection, product_id: uuid.UUID) -> int:
    found = await connection.scalar(text("SELECT quantity FROM products WHERE id = :id"), {"id": product_id})
    assert found is not None
    return int(found)
