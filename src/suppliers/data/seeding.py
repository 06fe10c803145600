"""Fill a migrated database: generated sample data, imported CSV files, demo users."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import asyncpg

from suppliers.data import generator
from suppliers.data.importer import CsvError, read_products, read_vendors
from suppliers.data.loading import (
    connect,
    copy_products,
    copy_vendors,
    count_products,
    create_demo_users,
    truncate_inventory,
)
from suppliers.data.progress import progress_bar


async def generate(database_url: str, *, vendors: int, products: int, seed: int) -> None:
    """Replace the inventory with generated rows, in one transaction, then create the demo users."""
    connection = await connect(database_url)
    try:
        with progress_bar() as bar:
            task = bar.add_task("generating products", total=products)
            async with connection.transaction():
                await truncate_inventory(connection)
                await copy_vendors(connection, generator.vendors(vendors, seed))
                for batch in generator.products(products, seed):
                    await copy_products(connection, batch)
                    bar.advance(task, len(batch))
                await create_demo_users(connection)
        await connection.execute("ANALYZE vendors; ANALYZE products")
    finally:
        await connection.close()


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import loaded; ``skipped_users``: demo users whose vendor is not in the files."""

    vendors: int
    given_c: int  # vendors whose row had no qualification: they got C
    products: int
    skipped_users: list[str]


async def import_csv(database_url: str, *, vendors_csv: Path, products_csv: Path) -> Imported:
    """Replace the inventory with the CSV files' rows; nothing changes if any row is bad."""
    vendor_file = read_vendors(vendors_csv)
    vendor_rows = vendor_file.rows
    product_rows = read_products(products_csv)
    connection = await connect(database_url)
    try:
        async with connection.transaction():
            await truncate_inventory(connection)
            try:
                await copy_vendors(connection, vendor_rows)
            except asyncpg.PostgresError as error:
                raise CsvError(vendors_csv, 0, f"the database refused its rows: {error}") from None
            try:
                await copy_products(connection, product_rows)
            except asyncpg.PostgresError as error:
                raise CsvError(products_csv, 0, f"the database refused its rows: {error}") from None
            skipped = await create_demo_users(connection)
        await connection.execute("ANALYZE vendors; ANALYZE products")
        return Imported(len(vendor_rows), vendor_file.given_c, len(product_rows), skipped)
    finally:
        await connection.close()


async def seed_if_empty(database_url: str, *, vendors: int, products: int, seed: int) -> bool:
    """Generate sample data on a database that has no products yet; True when it did."""
    connection = await connect(database_url)
    try:
        empty = await count_products(connection) == 0
    finally:
        await connection.close()
    if empty:
        await generate(database_url, vendors=vendors, products=products, seed=seed)
    return empty


async def ensure_demo_users(database_url: str) -> list[str]:
    connection = await connect(database_url)
    try:
        return await create_demo_users(connection)
    finally:
        await connection.close()
