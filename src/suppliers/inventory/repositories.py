"""SQL for the inventory. Every statement the services need, and nothing else.

Repositories work on a connection and return the API's own records (msgspec structs), typed. The
request's connection is in autocommit: a read is one round trip, and a stock movement, being one
statement, commits by itself; the resupply runs in a transaction of its own (the caller's).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import cast

import asyncpg
import msgspec
from sqlalchemy import Table, exists, func, insert, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from suppliers.db import driver
from suppliers.db.models import Product, Transaction, TransactionOwner, Vendor
from suppliers.db.pagination import Listing, fetch_page
from suppliers.inventory import low_stock_signal
from suppliers.inventory.movements import MovementOutcome, outcome_of
from suppliers.inventory.schemas import Action, ProductOut, TransactionOut, VendorOut

# pg_advisory_xact_lock key shared by every resupply, manual or automatic, in every replica.
RESUPPLY_LOCK_KEY = 0x5E5_0001

_products = cast("Table", Product.__table__)


def columns_of(record: type[msgspec.Struct]) -> tuple[str, ...]:
    """A record's fields, in order: the one list of the columns a query selects for it.

    Records are built positionally from rows, so every SELECT for a record reads exactly these
    columns in this order (tests/inventory/test_records.py checks each is its table's column)."""
    return tuple(field.name for field in msgspec.structs.fields(record))


def _select_list(record: type[msgspec.Struct]) -> str:
    return ", ".join(columns_of(record))


_VENDOR_COLUMNS = tuple(getattr(Vendor, name) for name in columns_of(VendorOut))
_TRANSACTION_COLUMNS = tuple(getattr(Transaction, name) for name in columns_of(TransactionOut))


def _one_line(sql: str) -> str:
    # The statement text is an attribute of every SQL span: one line, no indentation to encode.
    return " ".join(sql.split())


# The lists: columns in the field order of their records, and the order pages are cut in (each
# served by an index: ix_vendors' primary key, ix_products_name_id, ix_transactions_transaction_date).
_VENDOR_LIST = Listing(columns=_select_list(VendorOut), table="vendors", order="id")
_PRODUCT_LIST = Listing(
    columns=_select_list(ProductOut),
    table="products",
    order="name, id",
    tally="SELECT coalesce(sum(product_counts.products), 0)::bigint FROM product_counts",  # by grade
)
_TRANSACTION_LIST = Listing(
    columns=_select_list(TransactionOut),
    table="transactions",
    order="transaction_date DESC, id, product_id",
)

# The select list is the record's own field names (code, never input).
_PRODUCT_BY_ID = f"SELECT {_select_list(ProductOut)} FROM products WHERE id = $1"  # noqa: S608
_STOCK = "SELECT quantity FROM products WHERE id = $1"

# One stock movement, one statement, in autocommit: it commits, or fails, as a whole.
#   facts  what the rules need: the product's required and the vendor's held qualification;
#   owner  claims the transaction id for the vendor, or finds who owns it (only if the vendor may
#          handle the product). ON CONFLICT ... DO UPDATE waits for a concurrent claim of the same
#          id to commit and then returns that row: two vendors racing for a new id get one owner.
#          (One vendor racing itself for a new id breaks uq_transaction_owners_id_vendor_id
#          instead, which no ON CONFLICT can name beside the id: see move_stock);
#   line   the transaction line, only under the vendor's own id; nothing if this (id, product_id)
#          exists already (a replay);
#   stock  moves the stock, only if the line went in. A withdrawal that would take it below 0
#          breaks the products CHECK constraint: the whole statement fails and nothing is written.
#          PostgreSQL evaluates it on the latest row version after a concurrent writer commits,
#          so parallel withdrawals cannot oversell.
# The leading comment names the statement (its span in Tempo, its row in pg_stat_activity).
_MOVEMENT = """
/* movement transactions */
WITH facts AS (
    SELECT (SELECT required_qualification FROM products WHERE id = $2) AS required,
           (SELECT qualification FROM vendors WHERE id = $3) AS held
), owner AS (
    INSERT INTO transaction_owners (id, vendor_id)
    SELECT CAST($1 AS uuid), CAST($3 AS uuid) FROM facts
    WHERE facts.held || '>' || facts.required = ANY(CAST($6 AS text[]))
    ON CONFLICT (id) DO UPDATE SET id = EXCLUDED.id
    RETURNING vendor_id
), line AS (
    INSERT INTO transactions (id, product_id, vendor_id, action, quantity)
    SELECT CAST($1 AS uuid), CAST($2 AS uuid), CAST($3 AS uuid), CAST($4 AS varchar), CAST($5 AS integer)
    FROM owner WHERE owner.vendor_id = CAST($3 AS uuid)
    ON CONFLICT (id, product_id) DO NOTHING
    RETURNING transaction_date
), stock AS (
    UPDATE products SET quantity = quantity {sign} CAST($5 AS integer)
    WHERE id = $2 AND EXISTS (SELECT FROM line)
    RETURNING quantity
)
SELECT facts.required, facts.held,
       (SELECT owner.vendor_id IS NOT DISTINCT FROM CAST($3 AS uuid) FROM owner) AS owned,
       (SELECT transaction_date FROM line) AS stamp,
       (SELECT quantity FROM stock) AS stock
FROM facts
"""
_WITHDRAWAL = _one_line(_MOVEMENT.format(sign="-"))
_ADDITION = _one_line(_MOVEMENT.format(sign="+"))
# The key from (id, vendor_id) that the transactions' composite foreign key refers to.
_OWNER_PAIR = "uq_transaction_owners_id_vendor_id"


class StockWouldGoNegative(Exception):
    """The withdrawal takes more than is in stock: nothing was written."""


class StockOverflow(Exception):
    """The addition takes the stock past what the column holds: nothing was written."""


class VendorRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def get(self, vendor_id: uuid.UUID) -> VendorOut | None:
        query = select(*_VENDOR_COLUMNS).where(Vendor.id == vendor_id)
        row = (await self._connection.execute(query)).first()
        return None if row is None else VendorOut(**row._mapping)

    async def page(
        self, *, qualification: str | None, limit: int, offset: int
    ) -> tuple[list[VendorOut], int]:
        filters = [] if qualification is None else [("qualification = {}", qualification)]
        return await fetch_page(
            self._connection, _VENDOR_LIST, VendorOut, filters=filters, limit=limit, offset=offset
        )


class ProductRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def get(self, product_id: uuid.UUID) -> ProductOut | None:
        row = await driver.fetchrow(self._connection, _PRODUCT_BY_ID, product_id)
        return None if row is None else ProductOut(**row)

    async def page(
        self,
        *,
        below: int | None,
        required_qualification: str | None,
        name: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list[ProductOut], int]:
        filters: list[tuple[str, object]] = []
        if below is not None:
            filters.append(("quantity < {}", below))
        if required_qualification is not None:
            filters.append(("required_qualification = {}", required_qualification))
        if name:
            filters.append(("name ILIKE {} ESCAPE '\\'", f"%{_escape_like(name)}%"))
        return await fetch_page(
            self._connection,
            _PRODUCT_LIST,
            ProductOut,
            filters=filters,
            limit=limit,
            offset=offset,
            # The grade is product_counts' key; stock and name are not.
            tallied=below is None and not name,
        )

    async def stock(self, product_id: uuid.UUID) -> int | None:
        row = await driver.fetchrow(self._connection, _STOCK, product_id)
        return None if row is None else int(row["quantity"])

    async def count_below(self, threshold: int) -> int:
        query = select(func.count()).select_from(_products).where(Product.quantity < threshold)
        return int(await self._connection.scalar(query) or 0)

    async def lock_resupply(self, *, wait: bool) -> bool:
        """Take the cluster-wide resupply lock for the current database transaction."""
        if wait:
            await self._connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": RESUPPLY_LOCK_KEY}
            )
            return True
        got = await self._connection.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RESUPPLY_LOCK_KEY}
        )
        return bool(got)

    async def signal_low_stock(self, payload: str) -> None:
        """NOTIFY the stock watcher's leader (at once in autocommit, else when the transaction commits)."""
        notify = text("SELECT pg_notify(:channel, :payload)")
        await self._connection.execute(notify, {"channel": low_stock_signal.CHANNEL, "payload": payload})

    async def resupply_below(
        self, *, threshold: int, amount: int, transaction_id: uuid.UUID, vendor_id: uuid.UUID | None
    ) -> list[uuid.UUID]:
        """Add ``amount`` to every product under ``threshold`` and record one line per product.

        One statement: claiming the id, the UPDATE and the INSERT of its lines cannot be separated
        by a failure. The id is new (uuid4), so its claim cannot conflict; it is claimed only when
        there is something to resupply, so a run that finds nothing leaves no row behind.
        """
        claimed = (
            insert(TransactionOwner)
            .from_select(
                ["id", "vendor_id"],
                select(
                    literal(transaction_id, TransactionOwner.id.type),
                    literal(vendor_id, TransactionOwner.vendor_id.type),
                ).where(exists().where(Product.quantity < threshold)),
            )
            .returning(TransactionOwner.id)
            .cte("claimed")
        )
        raised = (
            update(Product)
            .where(Product.quantity < threshold, exists(select(claimed.c.id)))
            .values(quantity=Product.quantity + amount)
            .returning(Product.id)
            .cte("raised")
        )
        statement = (
            insert(Transaction)
            .from_select(
                ["id", "product_id", "vendor_id", "action", "quantity"],
                select(
                    literal(transaction_id, Transaction.id.type),
                    raised.c.id,
                    literal(vendor_id, Transaction.vendor_id.type),
                    literal("addition"),
                    literal(amount),
                ),
            )
            .returning(Transaction.product_id)
        )
        return list((await self._connection.scalars(statement)).all())


class TransactionRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def move_stock(
        self,
        *,
        transaction_id: uuid.UUID,
        product_id: uuid.UUID,
        vendor_id: uuid.UUID,
        action: Action,
        quantity: int,
        allowed: Sequence[str],
    ) -> MovementOutcome:
        """Record a line and move the stock in one statement; ``allowed`` lists "held>required" pairs.

        Raises StockWouldGoNegative or StockOverflow when PostgreSQL refused the new stock.
        """
        statement = _WITHDRAWAL if action == "withdrawal" else _ADDITION
        arguments = (transaction_id, product_id, vendor_id, action, quantity, list(allowed))
        try:
            try:
                row = await driver.fetchrow_alone(self._connection, statement, *arguments)
            except asyncpg.UniqueViolationError as error:
                if error.constraint_name != _OWNER_PAIR:
                    raise
                # Concurrent retries of one new id by its vendor: PostgreSQL checks the (id,
                # vendor_id) key, which ON CONFLICT (id) does not arbitrate, only once the other
                # claim has committed, and the failed statement wrote nothing. Run again, it finds
                # that claim through ON CONFLICT and records a replay.
                row = await driver.fetchrow_alone(self._connection, statement, *arguments)
        except asyncpg.CheckViolationError:
            raise StockWouldGoNegative from None
        except asyncpg.NumericValueOutOfRangeError:
            raise StockOverflow from None
        assert row is not None  # `FROM facts` always yields one row
        return outcome_of(
            required=row["required"],
            held=row["held"],
            owned=row["owned"],
            stamp=row["stamp"],
            stock=row["stock"],
        )

    async def get_line(self, transaction_id: uuid.UUID, product_id: uuid.UUID) -> TransactionOut | None:
        query = select(*_TRANSACTION_COLUMNS).where(
            Transaction.id == transaction_id, Transaction.product_id == product_id
        )
        row = (await self._connection.execute(query)).first()
        return None if row is None else TransactionOut(**row._mapping)

    async def lines(self, transaction_id: uuid.UUID, *, vendor_id: uuid.UUID | None) -> list[TransactionOut]:
        """The lines of a transaction; with ``vendor_id``, only that vendor's."""
        query = (
            select(*_TRANSACTION_COLUMNS)
            .where(Transaction.id == transaction_id)
            .order_by(Transaction.product_id)
        )
        if vendor_id is not None:
            query = query.where(Transaction.vendor_id == vendor_id)
        return [TransactionOut(**row._mapping) for row in await self._connection.execute(query)]

    async def page(
        self,
        *,
        vendor_id: uuid.UUID | None,
        product_id: uuid.UUID | None,
        action: Action | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        offset: int,
    ) -> tuple[list[TransactionOut], int]:
        wanted = (
            ("vendor_id = {}", vendor_id),
            ("product_id = {}", product_id),
            ("action = {}", action),
            ("transaction_date >= {}", since),
            ("transaction_date < {}", until),
        )
        filters = [(condition, value) for condition, value in wanted if value is not None]
        return await fetch_page(
            self._connection, _TRANSACTION_LIST, TransactionOut, filters=filters, limit=limit, offset=offset
        )


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
