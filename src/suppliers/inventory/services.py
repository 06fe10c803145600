"""The inventory rules. Each public method is one database transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from opentelemetry.trace import Span, Tracer
from opentelemetry.util.types import AttributeValue
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from suppliers.auth.principal import Principal
from suppliers.db.pagination import AnyRow
from suppliers.errors import DomainError
from suppliers.inventory import low_stock_signal
from suppliers.inventory.errors import (
    Forbidden,
    IdempotencyConflict,
    InsufficientStock,
    NotFound,
    StockLimitExceeded,
    TransactionIdTaken,
)
from suppliers.inventory.qualification import ALLOWED_PAIRS, can_handle
from suppliers.inventory.repositories import (
    Movement,
    ProductRepository,
    TransactionRepository,
    VendorRepository,
)
from suppliers.inventory.schemas import (
    ProductOut,
    ProductPage,
    ResupplyOut,
    TransactionDetail,
    TransactionIn,
    TransactionOut,
    TransactionPage,
    VendorOut,
    VendorPage,
)
from suppliers.telemetry.instruments import ACTION, OUTCOME, TRIGGER, Instruments
from suppliers.telemetry.spans import business_span

_NUMERIC_OUT_OF_RANGE = "22003"  # SQLSTATE: the new stock does not fit the int column


@dataclass(frozen=True, slots=True)
class StockRules:
    resupply_threshold: int
    resupply_amount: int


@dataclass(frozen=True, slots=True)
class Recorded:
    transaction: TransactionOut
    replayed: bool


def _vendor(row: AnyRow) -> VendorOut:
    return VendorOut(id=row.id, qualification=row.qualification)


def _product(row: AnyRow) -> ProductOut:
    return ProductOut(
        id=row.id,
        name=row.name,
        price=row.price,
        quantity=row.quantity,
        required_qualification=row.required_qualification,
    )


def _transaction(row: AnyRow) -> TransactionOut:
    return TransactionOut(
        id=row.id,
        product_id=row.product_id,
        vendor_id=row.vendor_id,
        action=row.action,
        quantity=row.quantity,
        transaction_date=row.transaction_date,
    )


def _visible_vendor(viewer: Principal) -> uuid.UUID | None:
    """The one vendor whose transactions ``viewer`` may see, or None for all of them (operators)."""
    return None if viewer.is_operator else viewer.vendor_id


class CatalogService:
    """Read-only views of vendors, products and transactions."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._vendors = VendorRepository(session)
        self._products = ProductRepository(session)
        self._transactions = TransactionRepository(session)

    async def vendor(self, vendor_id: uuid.UUID) -> VendorOut:
        row = await self._vendors.get(vendor_id)
        if row is None:
            raise NotFound("vendor", vendor_id)
        return _vendor(row)

    async def vendors(self, *, qualification: str | None, limit: int, offset: int) -> VendorPage:
        rows, total = await self._vendors.page(qualification=qualification, limit=limit, offset=offset)
        return VendorPage(items=[_vendor(r) for r in rows], total=total, limit=limit, offset=offset)

    async def product(self, product_id: uuid.UUID) -> ProductOut:
        row = await self._products.get(product_id)
        if row is None:
            raise NotFound("product", product_id)
        return _product(row)

    async def products(
        self,
        *,
        below: int | None,
        required_qualification: str | None,
        name: str | None,
        limit: int,
        offset: int,
    ) -> ProductPage:
        rows, total = await self._products.page(
            below=below, required_qualification=required_qualification, name=name, limit=limit, offset=offset
        )
        return ProductPage(items=[_product(r) for r in rows], total=total, limit=limit, offset=offset)

    async def transaction(self, viewer: Principal, transaction_id: uuid.UUID) -> TransactionDetail:
        """Every line of a transaction; a vendor user sees its own vendor's, and another's id is a 404."""
        rows = await self._transactions.lines(transaction_id, vendor_id=_visible_vendor(viewer))
        if not rows:
            raise NotFound("transaction", transaction_id)
        return TransactionDetail(id=transaction_id, lines=[_transaction(r) for r in rows])

    async def transactions(
        self,
        viewer: Principal,
        *,
        vendor_id: uuid.UUID | None,
        product_id: uuid.UUID | None,
        action: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        offset: int,
    ) -> TransactionPage:
        """Transaction lines, newest first; a vendor user's list holds its own vendor's lines only."""
        visible = _visible_vendor(viewer)
        if visible is not None and vendor_id not in (None, visible):
            raise Forbidden(f"user {viewer.username!r} may list only the transactions of vendor {visible}")
        rows, total = await self._transactions.page(
            vendor_id=visible or vendor_id,
            product_id=product_id,
            action=action,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
        return TransactionPage(items=[_transaction(r) for r in rows], total=total, limit=limit, offset=offset)


class StockService:
    """Stock movements: withdrawals, additions and resupply."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        rules: StockRules,
        tracer: Tracer,
        instruments: Instruments,
        signal_low_stock: bool = False,
    ) -> None:
        self._session = session
        self._products = ProductRepository(session)
        self._transactions = TransactionRepository(session)
        self._rules = rules
        self._tracer = tracer
        self._instruments = instruments
        self._signal_low_stock = signal_low_stock

    async def record(self, principal: Principal, request: TransactionIn) -> Recorded:
        """Apply one stock movement, or replay it if this ``(id, product_id)`` was already applied."""
        span_name = "inventory.withdraw" if request.action == "withdrawal" else "inventory.add"
        attributes: dict[str, AttributeValue] = {
            "suppliers.product.id": str(request.product_id),
            "suppliers.vendor.id": str(request.vendor_id),
            ACTION: request.action,
            "suppliers.inventory.quantity": request.quantity,
            "enduser.id": principal.username,
        }
        with business_span(self._tracer, span_name, attributes) as span:
            try:
                recorded = await self._record(principal, request, span)
            except DomainError as error:
                span.set_attribute(OUTCOME, error.outcome)
                self._instruments.transactions.add(1, {ACTION: request.action, OUTCOME: error.outcome})
                raise
            outcome = "replayed" if recorded.replayed else "success"
            span.set_attribute(OUTCOME, outcome)
            span.set_attribute("suppliers.transaction.id", str(recorded.transaction.id))
            self._instruments.transactions.add(1, {ACTION: request.action, OUTCOME: outcome})
            if not recorded.replayed:
                self._instruments.units.add(request.quantity, {ACTION: request.action})
            return recorded

    async def _record(self, principal: Principal, request: TransactionIn, span: Span) -> Recorded:
        if not principal.may_act_for(request.vendor_id):
            raise Forbidden(
                f"user {principal.username!r} acts for vendor {principal.vendor_id}, not {request.vendor_id}"
            )
        transaction_id = request.id or uuid.uuid4()
        crossed_threshold = False
        async with self._session.begin():
            movement = await self._move_stock(transaction_id, request)
            if movement.required is None:
                raise NotFound("product", request.product_id)
            if movement.held is None:
                raise NotFound("vendor", request.vendor_id)
            if not can_handle(movement.held, movement.required):
                raise Forbidden(
                    f"vendor {request.vendor_id} is qualified {movement.held}; product {request.product_id} "
                    f"requires {movement.required} or better"
                )
            if not movement.owned:
                # Whose it is, and what it holds, belongs to that vendor: say nothing about either.
                raise TransactionIdTaken(f"transaction id {transaction_id} is already in use; send a new id")
            if movement.stamp is None:
                return await self._replay(transaction_id, request)
            stamp, stock = movement.stamp, movement.stock
            if stock is None and request.action == "withdrawal":
                # The line went in but the stock could not move: leaving the block rolls both back.
                available = await self._products.stock(request.product_id) or 0
                raise InsufficientStock(request.product_id, request.quantity, available)
            if stock is None:  # pragma: no cover - deleted between the facts and the update
                raise NotFound("product", request.product_id)
            if request.action == "withdrawal":
                threshold = self._rules.resupply_threshold
                crossed_threshold = stock < threshold <= stock + request.quantity
                if crossed_threshold and self._signal_low_stock:
                    # In this transaction: the job's leader hears it only if the withdrawal commits.
                    await self._products.signal_low_stock(low_stock_signal.encode(span.get_span_context()))
        span.set_attribute("suppliers.product.stock", stock)
        if crossed_threshold:
            span.add_event("low_stock", {"suppliers.product.stock": stock})
        return Recorded(
            transaction=TransactionOut(
                id=transaction_id,
                product_id=request.product_id,
                vendor_id=request.vendor_id,
                action=request.action,
                quantity=request.quantity,
                transaction_date=stamp,
            ),
            replayed=False,
        )

    async def _move_stock(self, transaction_id: uuid.UUID, request: TransactionIn) -> Movement:
        try:
            return await self._transactions.move_stock(
                transaction_id=transaction_id,
                product_id=request.product_id,
                vendor_id=request.vendor_id,
                action=request.action,
                quantity=request.quantity,
                allowed=ALLOWED_PAIRS,
            )
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) == _NUMERIC_OUT_OF_RANGE:
                raise StockLimitExceeded(
                    f"adding {request.quantity} units would take product {request.product_id} past the "
                    "largest stock a product can hold"
                ) from None
            raise

    async def _replay(self, transaction_id: uuid.UUID, request: TransactionIn) -> Recorded:
        existing = await self._transactions.get_line(transaction_id, request.product_id)
        if existing is None:  # pragma: no cover - the conflicting row was committed before we looked
            raise IdempotencyConflict(f"transaction {transaction_id} is being recorded by another request")
        same = (existing.vendor_id, existing.action, existing.quantity) == (
            request.vendor_id,
            request.action,
            request.quantity,
        )
        if not same:
            raise IdempotencyConflict(
                f"transaction {transaction_id} already holds product {request.product_id} with another "
                f"body ({existing.action} of {existing.quantity} by vendor {existing.vendor_id})"
            )
        return Recorded(transaction=_transaction(existing), replayed=True)

    async def resupply_for(self, principal: Principal) -> ResupplyOut:
        """A resupply asked for over HTTP: operators only, recorded under the operator's vendor."""
        if not principal.is_operator:
            raise Forbidden(f"user {principal.username!r} may not resupply: operators only")
        result = await self.resupply(vendor_id=principal.vendor_id, trigger="manual", wait=True)
        assert result is not None  # a waiting resupply always gets the lock
        return result

    async def resupply(
        self, *, vendor_id: uuid.UUID | None, trigger: str, wait: bool = True
    ) -> ResupplyOut | None:
        """Raise every product under the threshold, as one 'addition' transaction over all of them.

        Every resupply takes the same advisory lock, so two runs (a PUT and the scheduled job, or two
        replicas) never race over the same rows. With ``wait=False`` a run that finds the lock taken
        returns None at once: somebody else is already resupplying.
        """
        with business_span(
            self._tracer,
            "inventory.resupply",
            {TRIGGER: trigger, "suppliers.resupply.threshold": self._rules.resupply_threshold},
        ) as span:
            transaction_id = uuid.uuid4()
            async with self._session.begin():
                if not await self._products.lock_resupply(wait=wait):
                    span.set_attribute("suppliers.resupply.skipped", "lock_held_elsewhere")
                    return None
                product_ids = await self._products.resupply_below(
                    threshold=self._rules.resupply_threshold,
                    amount=self._rules.resupply_amount,
                    transaction_id=transaction_id,
                    vendor_id=vendor_id,
                )
            span.set_attribute("suppliers.resupply.products", len(product_ids))
            if product_ids:
                span.set_attribute("suppliers.transaction.id", str(transaction_id))
                self._instruments.resupplies.add(1, {TRIGGER: trigger})
                self._instruments.resupplied_products.add(len(product_ids), {TRIGGER: trigger})
                self._instruments.units.add(
                    len(product_ids) * self._rules.resupply_amount, {ACTION: "addition"}
                )
            return ResupplyOut(
                transaction_id=transaction_id if product_ids else None,
                count=len(product_ids),
                product_ids=product_ids,
            )

    async def count_low_stock(self) -> int:
        async with self._session.begin():
            return await self._products.count_below(self._rules.resupply_threshold)
