"""The schema exists only through Alembic: up from empty, down to nothing, and no drift from the models."""

from __future__ import annotations

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from suppliers.db.migrations import downgrade, upgrade
from suppliers.db.models import Base
from tests.conftest import create_database


async def _tables(url: str) -> set[str]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r["tablename"] for r in rows}
    finally:
        await connection.close()


async def test_upgrade_head_then_downgrade_base_then_again(server_url: str) -> None:
    url = await create_database(server_url, "migrations_roundtrip")
    upgrade(url)
    assert await _tables(url) == {
        "alembic_version",
        "vendors",
        "products",
        "transactions",
        "users",
        "revoked_tokens",
    }
    downgrade(url, "base")
    assert await _tables(url) == {"alembic_version"}
    upgrade(url)
    assert "transactions" in await _tables(url)


async def test_models_and_migrations_agree(server_url: str) -> None:
    url = await create_database(server_url, "migrations_drift")
    upgrade(url)
    engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://"))

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(diff) == []
    finally:
        await engine.dispose()


async def test_constraints_hold_in_the_database(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        for statement in (
            "INSERT INTO vendors (id, qualification) VALUES (gen_random_uuid(), 'D')",
            "INSERT INTO products (id, name, price, quantity, required_qualification) VALUES (gen_random_uuid(), 'x', -1, 1, 'A')",
            "INSERT INTO products (id, name, price, quantity, required_qualification) VALUES (gen_random_uuid(), 'x', 1, -1, 'A')",
            "INSERT INTO transactions (id, product_id, action, quantity) SELECT gen_random_uuid(), id, 'steal', 1 FROM products LIMIT 1",
            "INSERT INTO transactions (id, product_id, action, quantity) SELECT gen_random_uuid(), id, 'addition', 0 FROM products LIMIT 1",
            "INSERT INTO transactions (id, product_id, action, quantity) VALUES (gen_random_uuid(), gen_random_uuid(), 'addition', 1)",
        ):
            try:
                await connection.execute(statement)
            except asyncpg.IntegrityConstraintViolationError:
                continue
            raise AssertionError(f"accepted: {statement}")
    finally:
        await connection.close()
