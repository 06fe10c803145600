"""SQL for the inventory. Every statement the services need, and nothing else."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, func, insert, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from suppliers.db.models import Product, Transaction, Vendor
from suppliers.db.pagination import AnyRow, fetch_page

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

# The statements of the hot path (POST /transactions, GET /products/{id}) are built once, as Core
# statements with bind parameters: building an ORM statement per request, generating its cache key
# and running the ORM's bulk-update bookkeeping cost more CPU than the round trip itself.
_products = cast("Table", Product.__table__)
_vendors = cast("Table", Vendor.__table__)
_transactions = cast("Table", Transaction.__table__)

_PRODUCT_BY_ID = select(*_PRODUCT_COLUMNS).where(Product.id == bindparam("product_id"))
_QUALIFICATIONS = select(
    select(_products.c.required_qualification)
    .where(_products.c.id == bindparam("product_id"))
    .scalar_subquery(),
    select(_vendors.c.qualification).where(_vendors.c.id == bindparam("vendor_id")).scalar_subquery(),
)
# The condition sits in the UPDATE itself: PostgreSQL re-checks it on the latest row version after
# any concurrent writer commits, so parallel withdrawals cannot oversell.
_WITHDRAW = (
    update(_products)
    .where(_products.c.id == bindparam("product_id"), _products.c.quantity >= bindparam("quantity"))
    .values(quantity=_products.c.quantity - bindparam("quantity"))
    .returning(_products.c.quantity)
)
_ADD = (
    update(_products)
    .where(_products.c.id == bindparam("product_id"))
    .values(quantity=_products.c.quantity + bindparam("quantity"))
    .returning(_products.c.quantity)
)
_STOCK = select(_products.c.quantity).where(_products.c.id == bindparam("product_id"))
_INSERT_LINE = (
    pg_insert(_transactions)
    .values(
        id=bindparam("transaction_id"),
        product_id=bindparam("product_id"),
        vendor_id=bindparam("vendor_id"),
        action=bindparam("action"),
        quantity=bindparam("quantity"),
    )
    .on_conflict_do_nothing(index_elements=[_transactions.c.id, _transactions.c.product_id])
    .returning(_transactions.c.transaction_date)
)


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

    async def qualifications(
        self, product_id: uuid.UUID, vendor_id: uuid.UUID
    ) -> tuple[str | None, str | None]:
        """Required qualification of the product and qualification of the vendor, in one round trip."""
        params = {"product_id": product_id, "vendor_id": vendor_id}
        row = (await self._session.execute(_QUALIFICATIONS, params)).one()
        return row[0], row[1]

    async def withdraw(self, product_id: uuid.UUID, quantity: int) -> int | None:
        """Take ``quantity`` units if that many are in stock; the new stock, or None if too few."""
        params = {"product_id": product_id, "quantity": quantity}
        stock: int | None = (await self._session.execute(_WITHDRAW, params)).scalar_one_or_none()
        return stock

    async def add(self, product_id: uuid.UUID, quantity: int) -> int | None:
        params = {"product_id": product_id, "quantity": quantity}
        stock: int | None = (await self._session.execute(_ADD, params)).scalar_one_or_none()
        return stock

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

    async def resupply_below(
        self, *, threshold: int, amount: int, transaction_id: uuid.UUID, vendor_id: uuid.UUID | None
    ) -> list[uuid.UUID]:
        """Add ``amount`` to every product under ``threshold`` and record one line per product.

        One statement: the UPDATE and the INSERT of its lines cannot be separated by a failure.
        """
        raised = (
            update(Product)
            .where(Product.quantity < threshold)
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

    async def insert_new(
        self,
        *,
        transaction_id: uuid.UUID,
        product_id: uuid.UUID,
        vendor_id: uuid.UUID,
        action: str,
        quantity: int,
    ) -> datetime | None:
        """Insert a line; its timestamp, or None when ``(id, product_id)`` is already recorded."""
        params = {
            "transaction_id": transaction_id,
            "product_id": product_id,
            "vendor_id": vendor_id,
            "action": action,
            "quantity": quantity,
        }
        stamp: datetime | None = (await self._session.execute(_INSERT_LINE, params)).scalar_one_or_none()
        return stamp

    async def get_line(self, transaction_id: uuid.UUID, product_id: uuid.UUID) -> AnyRow | None:
        query = select(*_TRANSACTION_COLUMNS).where(
            Transaction.id == transaction_id, Transaction.product_id == product_id
        )
        return (await self._session.execute(query)).first()

    async def lines(self, transaction_id: uuid.UUID) -> Sequence[AnyRow]:
        query = (
            select(*_TRANSACTION_COLUMNS)
            .where(Transaction.id == transaction_id)
            .order_by(Transaction.product_id)
        )
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
