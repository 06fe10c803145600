"""Loading rows into PostgreSQL with COPY, all or nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import asyncpg

from suppliers.auth.passwords import hash_password
from suppliers.data.demo import DEMO_USERS
from suppliers.db.urls import libpq_url

VendorRow = tuple[uuid.UUID, str]
ProductRow = tuple[uuid.UUID, str, Decimal, int, str]


async def connect(database_url: str) -> Any:
    return await asyncpg.connect(libpq_url(database_url))


async def truncate_inventory(connection: Any) -> None:
    # Users hang off vendors: they go too and are recreated by `create_demo_users`.
    await connection.execute("TRUNCATE transactions, transaction_owners, users, products, vendors")


async def copy_vendors(connection: Any, rows: Sequence[VendorRow]) -> None:
    await connection.copy_records_to_table("vendors", records=rows, columns=["id", "qualification"])


async def copy_products(connection: Any, rows: Sequence[ProductRow]) -> None:
    await connection.copy_records_to_table(
        "products", records=rows, columns=["id", "name", "price", "quantity", "required_qualification"]
    )


async def count_products(connection: Any) -> int:
    return int(await connection.fetchval("SELECT count(*) FROM products"))


async def create_demo_users(
    connection: Any, users: Iterable[tuple[str, uuid.UUID, str]] = DEMO_USERS
) -> list[str]:
    """Create or reset the demo users whose vendor exists; the names of those skipped."""
    existing = {
        r["id"]
        for r in await connection.fetch("SELECT id FROM vendors WHERE id = ANY($1)", [u[1] for u in users])
    }
    skipped = []
    for username, vendor_id, role in users:
        if vendor_id not in existing and role != "operator":
            skipped.append(username)
            continue
        await connection.execute(
            """
            INSERT INTO users (username, password_hash, vendor_id, role) VALUES ($1, $2, $3, $4)
            ON CONFLICT (username) DO UPDATE
               SET password_hash = EXCLUDED.password_hash,
                   vendor_id = EXCLUDED.vendor_id,
                   role = EXCLUDED.role
            """,
            username,
            hash_password(username),
            vendor_id if vendor_id in existing else None,
            role,
        )
    return skipped
