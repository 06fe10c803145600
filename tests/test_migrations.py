"""The schema exists only through Alembic: up from empty, down to nothing, and no drift from the models."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import UTC, datetime

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from suppliers.db.migrations import downgrade, upgrade
from suppliers.db.models import Base
from suppliers.db.urls import sqlalchemy_url
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
        "transaction_owners",
        "users",
        "revoked_tokens",
        "product_counts",
    }
    downgrade(url, "base")
    assert await _tables(url) == {"alembic_version"}
    upgrade(url)
    assert "transactions" in await _tables(url)


async def test_models_and_migrations_agree(server_url: str) -> None:
    url = await create_database(server_url, "migrations_drift")
    upgrade(url)
    engine = create_async_engine(sqlalchemy_url(url))

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
    owned = uuid.uuid4()
    await connection.execute("INSERT INTO transaction_owners (id, vendor_id) VALUES ($1, NULL)", owned)
    try:
        for statement in (
            "INSERT INTO vendors (id, qualification) VALUES (gen_random_uuid(), 'D')",
            "INSERT INTO products (id, name, price, quantity, required_qualification) VALUES (gen_random_uuid(), 'x', -1, 1, 'A')",
            "INSERT INTO products (id, name, price, quantity, required_qualification) VALUES (gen_random_uuid(), 'x', 1, -1, 'A')",
            # Under an owned (system) id, so that each of these fails for the reason it names.
            "INSERT INTO transactions (id, product_id, action, quantity) SELECT $1, id, 'steal', 1 FROM products LIMIT 1",
            "INSERT INTO transactions (id, product_id, action, quantity) SELECT $1, id, 'addition', 0 FROM products LIMIT 1",
            "INSERT INTO transactions (id, product_id, action, quantity) VALUES ($1, gen_random_uuid(), 'addition', 1)",
            # An id nobody owns, and a vendor's line under an id that belongs to the system.
            "INSERT INTO transactions (id, product_id, action, quantity) SELECT gen_random_uuid(), id, 'addition', 1 FROM products LIMIT 1",
            "INSERT INTO transactions (id, product_id, vendor_id, action, quantity) SELECT $1, p.id, v.id, 'addition', 1 FROM products p, vendors v LIMIT 1",
        ):
            arguments = [owned] if "$1" in statement else []
            try:
                await connection.execute(statement, *arguments)
            except asyncpg.IntegrityConstraintViolationError:
                continue
            raise AssertionError(f"accepted: {statement}")
    finally:
        await connection.close()


async def test_transaction_owners_are_backfilled_and_mixed_ids_still_upgrade(server_url: str) -> None:
    """0002 on a database written before it: each id gets the vendor of its first line; ids that two
    vendors already share do not block the upgrade (the key is NOT VALID), new mixing is refused."""
    url = await create_database(server_url, "migrations_owners")
    upgrade(url, "0001")
    connection = await asyncpg.connect(url)
    try:
        vendors = [uuid.uuid4(), uuid.uuid4()]
        products = [uuid.uuid4(), uuid.uuid4()]
        shared, single = uuid.uuid4(), uuid.uuid4()
        for vendor in vendors:
            await connection.execute("INSERT INTO vendors (id, qualification) VALUES ($1, 'A')", vendor)
        for product in products:
            await connection.execute(
                "INSERT INTO products (id, name, price, quantity, required_qualification) VALUES ($1, 'p', 1, 9, 'C')",
                product,
            )
        lines = [
            (shared, products[0], vendors[0], datetime(2026, 1, 1, tzinfo=UTC)),
            (shared, products[1], vendors[1], datetime(2026, 1, 2, tzinfo=UTC)),
            (single, products[0], vendors[1], datetime(2026, 1, 3, tzinfo=UTC)),
        ]
        for transaction_id, product, vendor, stamp in lines:
            await connection.execute(
                "INSERT INTO transactions (id, product_id, vendor_id, action, quantity, transaction_date) "
                "VALUES ($1, $2, $3, 'addition', 1, $4)",
                transaction_id,
                product,
                vendor,
                stamp,
            )
    finally:
        await connection.close()
    upgrade(url)
    connection = await asyncpg.connect(url)
    try:
        owners = dict(await connection.fetch("SELECT id, vendor_id FROM transaction_owners"))
        assert owners == {shared: vendors[0], single: vendors[1]}
        with_other_vendor = "INSERT INTO transactions (id, product_id, vendor_id, action, quantity) VALUES ($1, $2, $3, 'addition', 1)"
        try:
            await connection.execute(with_other_vendor, single, products[1], vendors[0])
        except asyncpg.ForeignKeyViolationError:
            pass
        else:
            raise AssertionError("a line of one vendor under another vendor's id was accepted")
    finally:
        await connection.close()
    downgrade(url, "0001")


async def test_replicas_that_migrate_together_take_turns(server_url: str) -> None:
    """Kubernetes starts every API pod's init container at once: each runs `suppliers db upgrade`."""
    url = await create_database(server_url, "migrations_together")
    environment = {**os.environ, "DATABASE_URL": url, "SUPPLIERS_LOG_LEVEL": "WARNING"}
    runs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "suppliers",
            "db",
            "upgrade",
            env=environment,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(4)
    ]
    outcomes = [(await run.wait(), (await run.stderr.read()).decode()) for run in runs if run.stderr]
    assert [code for code, _ in outcomes] == [0, 0, 0, 0], [text[-500:] for _, text in outcomes]
    assert "transactions" in await _tables(url)
