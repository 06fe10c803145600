"""SQL for the inventory. Every statement the services need, and nothing else."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, exists, func, insert, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from suppliers.db.models import Product, Transaction, TransactionOwner, Vendor
from suppliers.db.pagination import AnyRow, fetch_page
from suppliers.inventory import low_stock_signal

# pg_advisory_xact_lock key shared by every resupply, manual or automatic, in every replica.
RESUPPLY_LOCK_KEY = 0x5E5_0001

_PRODUCT_COLUMNS = (Product.id, Product.name, Product.price, Product.quantity, Product.required_qualification)
_TRANSACTION_COLUMNS = (
    Transaction.id,
    Transaction.product_id,
    Transaction.vendor_id,
    Transaction.action,
    Transaction.quantity,
    Transaction.transaction_date,
)

# The statements of the hot path (POST /transactions, GET /products/{id}) are built once, with bind
# parameters: building an ORM statement per request, generating its cache key and running the ORM's
# bulk-update bookkeeping cost more CPU than the round trip itself.
_products = cast("Table", Product.__table__)

_PRODUCT_BY_ID = select(*_PRODUCT_COLUMNS).where(Product.id == bindparam("product_id"))
_STOCK = select(_products.c.quantity).where(_products.c.id == bindparam("product_id"))

# One stock movement in one round trip: read the facts the rules need; claim the transaction id
# for the vendor, or find who owns it (only if the vendor may handle the product); insert the line
# (only under the vendor's own id; nothing if this (id, product_id) exists: a replay); then move
# the stock (only if the line was inserted; for a withdrawal only if enough is in stock).
#
# Concurrency: the claim's ON CONFLICT ... DO UPDATE waits for a concurrent claim of the same id to
# commit and then returns that row, so two vendors racing for a new id get one owner; the UPDATE
# re-checks its stock condition on the latest row version after a concurrent writer commits, so
# parallel withdrawals cannot oversell. The caller decides from the facts returned and rolls back
# when the line went in but the stock could not move.
_MOVEMENT = """
WITH facts AS (
    SELECT (SELECT required_qualification FROM products WHERE id = :product_id) AS required,
           (SELECT qualification FROM vendors WHERE id = :vendor_id) AS held
), owner AS (
    INSERT INTO transaction_owners (id, vendor_id)
    SELECT CAST(:transaction_id AS uuid), CAST(:vendor_id AS uuid)
    FROM facts
    WHERE facts.held || '>' || facts.required = ANY(CAST(:allowed AS text[]))
    ON CONFLICT (id) DO UPDATE SET id = EXCLUDED.id
    RETURNING vendor_id
), line AS (
    INSERT INTO transactions (id, product_id, vendor_id, action, quantity)
    SELECT CAST(:transaction_id AS uuid), CAST(:product_id AS uuid), CAST(:vendor_id AS uuid),
           CAST(:action AS varchar), CAST(:quantity AS integer)
    FROM owner
    WHERE owner.vendor_id = CAST(:vendor_id AS uuid)
    ON CONFLICT (id, product_id) DO NOTHING
    RETURNING transaction_date
), stock AS (
    UPDATE products SET quantity = quantity {sign} :quantity
    WHERE id = :product_id {condition} AND EXISTS (SELECT FROM line)
    RETURNING quantity
)
SELECT facts.required, facts.held,
       (SELECT owner.vendor_id IS NOT DISTINCT FROM CAST(:vendor_id AS uuid) FROM owner) AS owned,
       (SELECT transaction_date FROM line) AS stamp,
       (SELECT quantity FROM stock) AS stock
FROM facts
"""
_WITHDRAWAL = text(_MOVEMENT.format(sign="-", condition="AND quantity >= :quantity").strip())
_ADDITION = text(_MOVEMENT.format(sign="+", condition="").strip())


@dataclass(frozen=True, slots=True)
class Movement:
    """What one movement statement found and did: None where a fact is missing or a step did not run."""

    required: str | None
    held: str | None
    owned: bool | None  # None: the id was not claimed (the rules refused first)
    stamp: datetime | None
    stock: int | None


class VendorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, vendor_id: uuid.UUID) -> AnyRow | None:
        query = select(Vendor.id, Vendor.qualification).where(Vendor.id == vendor_id)
        return (await self._session.execute(query)).first()

    async def page(
        self, *, qualification: str | None, limit: int, offset: int
    ) -> tuple[Sequence[AnyRow], int]:
        query = select(Vendor.id, Vendor.qualification).order_by(Vendor.id)
        if qualification is not None:
            query = query.where(Vendor.qualification == qualification)
        return await fetch_page(self._session, query, limit=limit, offset=offset)


class ProductRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, product_id: uuid.UUID) -> AnyRow | None:
        return (await self._session.execute(_PRODUCT_BY_ID, {"product_id": product_id})).first()

    async def page(
        self,
        *,
        below: int | None,
        required_qualification: str | None,
        name: str | None,
        limit: int,
        offset: int,
    ) -> tuple[Sequence[AnyRow], int]:
        query = select(*_PRODUCT_COLUMNS).order_by(Product.name, Product.id)
        if below is not None:
            query = query.where(Product.quantity < below)
        if required_qualification is not None:
            query = query.where(Product.required_qualification == required_qualification)
        if name:
            query = query.where(Product.name.ilike(f"%{_escape_like(name)}%", escape="\\"))
        return await fetch_page(self._session, query, limit=limit, offset=offset)

    async def stock(self, product_id: uuid.UUID) -> int | None:
        stock: int | None = (
            await self._session.execute(_STOCK, {"product_id": product_id})
        ).scalar_one_or_none()
        return stock

    async def count_below(self, threshold: int) -> int:
        return int(await self._session.scalar(select(func.count()).where(Product.quantity < threshold)) or 0)

    async def lock_resupply(self, *, wait: bool) -> bool:
        """Take the cluster-wide resupply lock for this database transaction."""
        if wait:
            await self._session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": RESUPPLY_LOCK_KEY}
            )
            return True
        got = await self._session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RESUPPLY_LOCK_KEY}
        )
        return bool(got)

    async def signal_low_stock(self, payload: str) -> None:
        """NOTIFY the stock watcher's leader; PostgreSQL delivers it when this transaction commits."""
        await self._session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": low_stock_signal.CHANNEL, "payload": payload},
        )

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
        return list((await self._session.scalars(statement)).all())


class TransactionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def move_stock(
        self,
        *,
        transaction_id: uuid.UUID,
        product_id: uuid.UUID,
        vendor_id: uuid.UUID,
        action: str,
        quantity: int,
        allowed: Sequence[str],
    ) -> Movement:
        """Record a line and move the stock in one statement; ``allowed`` lists "held>required" pairs."""
        statement = _WITHDRAWAL if action == "withdrawal" else _ADDITION
        params = {
            "transaction_id": transaction_id,
            "product_id": product_id,
            "vendor_id": vendor_id,
            "action": action,
            "quantity": quantity,
            "allowed": list(allowed),
        }
        row = (await self._session.execute(statement, params)).one()
        return Movement(
            required=row.required, held=row.held, owned=row.owned, stamp=row.stamp, stock=row.stock
        )

    async def get_line(self, transaction_id: uuid.UUID, product_id: uuid.UUID) -> AnyRow | None:
        query = select(*_TRANSACTION_COLUMNS).where(
            Transaction.id == transaction_id, Transaction.product_id == product_id
        )
        return (await self._session.execute(query)).first()

    async def lines(self, transaction_id: uuid.UUID, *, vendor_id: uuid.UUID | None) -> Sequence[AnyRow]:
        """The lines of a transaction; with ``vendor_id``, only that vendor's."""
        query = (
            select(*_TRANSACTION_COLUMNS)
            .where(Transaction.id == transaction_id)
            .order_by(Transaction.product_id)
        )
        if vendor_id is not None:
            query = query.where(Transaction.vendor_id == vendor_id)
        return (await self._session.execute(query)).all()

    async def page(
        self,
        *,
        vendor_id: uuid.UUID | None,
        product_id: uuid.UUID | None,
        action: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        offset: int,
    ) -> tuple[Sequence[AnyRow], int]:
        query = select(*_TRANSACTION_COLUMNS).order_by(
            Transaction.transaction_date.desc(), Transaction.id, Transaction.product_id
        )
        if vendor_id is not None:
            query = query.where(Transaction.vendor_id == vendor_id)
        if product_id is not None:
            query = query.where(Transaction.product_id == product_id)
        if action is not None:
            query = query.where(Transaction.action == action)
        if since is not None:
            query = query.where(Transaction.transaction_date >= since)
        if until is not None:
            query = query.where(Transaction.transaction_date < until)
        return await fetch_page(self._session, query, limit=limit, offset=offset)


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
