"""The inventory rules. Each public method is one database transaction (a movement: one statement)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from opentelemetry import trace
from opentelemetry.trace import Tracer
from opentelemetry.util.types import AttributeValue
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from suppliers.auth.principal import Principal
from suppliers.errors import Forbidden, NotFound
from suppliers.inventory import low_stock_signal
from suppliers.inventory.errors import (
    IdempotencyConflict,
    InsufficientStock,
    StockLimitExceeded,
    TransactionIdTaken,
)
from suppliers.inventory.movements import (
    AlreadyRecorded,
    IdTaken,
    Moved,
    MovementOutcome,
    NotQualified,
    ProductMissing,
    VendorMissing,
)
from suppliers.inventory.qualification import ALLOWED_PAIRS
from suppliers.inventory.repositories import (
    ProductRepository,
    StockOverflow,
    StockWouldGoNegative,
    TransactionRepository,
    VendorRepository,
)
from suppliers.inventory.schemas import (
    Action,
    Page,
    ProductOut,
    ResupplyOut,
    TransactionDetail,
    TransactionIn,
    TransactionOut,
    VendorOut,
)
from suppliers.telemetry.attributes import (
    ACTION,
    ENDUSER_ID,
    OUTCOME,
    PRODUCT_ID,
    PRODUCT_STOCK,
    QUANTITY,
    RESUPPLY_PRODUCTS,
    RESUPPLY_SKIPPED,
    RESUPPLY_THRESHOLD,
    TRANSACTION_ID,
    TRIGGER,
    VENDOR_ID,
)
from suppliers.telemetry.instruments import Instruments
from suppliers.telemetry.outcomes import outcome_told
from suppliers.telemetry.spans import business_span, on_request_span


@dataclass(frozen=True, slots=True)
class StockRules:
    resupply_threshold: int
    resupply_amount: int


@dataclass(frozen=True, slots=True)
class Recorded:
    transaction: TransactionOut
    replayed: bool


def _visible_vendor(viewer: Principal) -> uuid.UUID | None:
    """The one vendor whose transactions ``viewer`` may see, or None for all of them (operators)."""
    return None if viewer.is_operator else viewer.vendor_id


class CatalogService:
    """Read-only views of vendors, products and transactions."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._vendors = VendorRepository(connection)
        self._products = ProductRepository(connection)
        self._transactions = TransactionRepository(connection)

    async def vendor(self, vendor_id: uuid.UUID) -> VendorOut:
        found = await self._vendors.get(vendor_id)
        if found is None:
            raise NotFound("vendor", vendor_id)
        return found

    async def vendors(self, *, qualification: str | None, limit: int, offset: int) -> Page[VendorOut]:
        items, total = await self._vendors.page(qualification=qualification, limit=limit, offset=offset)
        return Page(items=items, total=total, limit=limit, offset=offset)

    async def product(self, product_id: uuid.UUID) -> ProductOut:
        found = await self._products.get(product_id)
        if found is None:
            raise NotFound("product", product_id)
        return found

    async def products(
        self,
        *,
        below: int | None,
        required_qualification: str | None,
        name: str | None,
        limit: int,
        offset: int,
    ) -> Page[ProductOut]:
        items, total = await self._products.page(
            below=below, required_qualification=required_qualification, name=name, limit=limit, offset=offset
        )
        return Page(items=items, total=total, limit=limit, offset=offset)

    async def transaction(self, viewer: Principal, transaction_id: uuid.UUID) -> TransactionDetail:
        """Every line of a transaction; a vendor user sees its own vendor's, and another's id is a 404."""
        lines = await self._transactions.lines(transaction_id, vendor_id=_visible_vendor(viewer))
        if not lines:
            raise NotFound("transaction", transaction_id)
        return TransactionDetail(id=transaction_id, lines=lines)

    async def transactions(
        self,
        viewer: Principal,
        *,
        vendor_id: uuid.UUID | None,
        product_id: uuid.UUID | None,
        action: Action | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        offset: int,
    ) -> Page[TransactionOut]:
        """Transaction lines, newest first; a vendor user's list holds its own vendor's lines only."""
        visible = _visible_vendor(viewer)
        if visible is not None and vendor_id not in (None, visible):
            raise Forbidden(f"user {viewer.username!r} may list only the transactions of vendor {visible}")
        items, total = await self._transactions.page(
            vendor_id=visible or vendor_id,
            product_id=product_id,
            action=action,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
        return Page(items=items, total=total, limit=limit, offset=offset)


class StockService:
    """Stock movements: withdrawals, additions and resupply.

    ``connection`` is in autocommit (a movement is one statement); ``engine`` opens the
    transaction a resupply needs around its advisory lock.
    """

    def __init__(
        self,
        connection: AsyncConnection,
        *,
        engine: AsyncEngine,
        rules: StockRules,
        tracer: Tracer,
        instruments: Instruments,
        signal_low_stock: bool = False,
    ) -> None:
        self._products = ProductRepository(connection)
        self._transactions = TransactionRepository(connection)
        self._engine = engine
        self._rules = rules
        self._tracer = tracer
        self._instruments = instruments
        self._signal_low_stock = signal_low_stock

    async def record(self, principal: Principal, request: TransactionIn) -> Recorded:
        """Apply one stock movement, or replay it if this ``(id, product_id)`` was already applied.

        Told on the request's span (``POST /transactions``): its SQL statement is the only child.
        """
        attributes: dict[str, AttributeValue] = {
            PRODUCT_ID: str(request.product_id),
            VENDOR_ID: str(request.vendor_id),
            ACTION: request.action,
            QUANTITY: request.quantity,
            ENDUSER_ID: principal.username,
        }
        counted = {ACTION: request.action}
        with (
            on_request_span(attributes) as span,
            outcome_told(span, OUTCOME, self._instruments.transactions, counted) as told,
        ):
            recorded = await self._record(principal, request)
            span.set_attribute(TRANSACTION_ID, str(recorded.transaction.id))
            if recorded.replayed:
                told.outcome = "replayed"
            else:
                self._instruments.units.add(request.quantity, counted)
            return recorded

    async def _record(self, principal: Principal, request: TransactionIn) -> Recorded:
        if not principal.may_act_for(request.vendor_id):
            raise Forbidden(
                f"user {principal.username!r} acts for vendor {principal.vendor_id}, not {request.vendor_id}"
            )
        transaction_id = request.id or uuid.uuid4()
        match await self._move_stock(transaction_id, request):
            case ProductMissing():
                raise NotFound("product", request.product_id)
            case VendorMissing():
                raise NotFound("vendor", request.vendor_id)
            case NotQualified(held, required):
                raise Forbidden(
                    f"vendor {request.vendor_id} is qualified {held}; product {request.product_id} "
                    f"requires {required} or better"
                )
            case IdTaken():
                # Whose it is, and what it holds, belongs to that vendor: say nothing about either.
                raise TransactionIdTaken(f"transaction id {transaction_id} is already in use; send a new id")
            case AlreadyRecorded():
                return await self._replay(transaction_id, request)
            case Moved(stamp, stock):
                return await self._moved(transaction_id, request, stamp, stock)

    async def _moved(
        self, transaction_id: uuid.UUID, request: TransactionIn, stamp: datetime, stock: int
    ) -> Recorded:
        # Told on the request's span, where on_request_span put the movement's other attributes.
        span = trace.get_current_span()
        span.set_attribute(PRODUCT_STOCK, stock)
        threshold = self._rules.resupply_threshold
        if request.action == "withdrawal" and stock < threshold <= stock + request.quantity:
            span.add_event("low_stock", {PRODUCT_STOCK: stock})
            if self._signal_low_stock:
                await self._products.signal_low_stock(low_stock_signal.encode(span.get_span_context()))
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

    async def _move_stock(self, transaction_id: uuid.UUID, request: TransactionIn) -> MovementOutcome:
        try:
            return await self._transactions.move_stock(
                transaction_id=transaction_id,
                product_id=request.product_id,
                vendor_id=request.vendor_id,
                action=request.action,
                quantity=request.quantity,
                allowed=ALLOWED_PAIRS,
            )
        except StockWouldGoNegative:
            available = await self._products.stock(request.product_id) or 0
            raise InsufficientStock(request.product_id, request.quantity, available) from None
        except StockOverflow:
            raise StockLimitExceeded(
                f"adding {request.quantity} units would take product {request.product_id} past the "
                "largest stock a product can hold"
            ) from None

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
        return Recorded(transaction=existing, replayed=True)

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
            {TRIGGER: trigger, RESUPPLY_THRESHOLD: self._rules.resupply_threshold},
        ) as span:
            transaction_id = uuid.uuid4()
            # A transaction of its own: the advisory lock lives as long as it does.
            async with self._engine.begin() as transaction:
                products = ProductRepository(transaction)
                if not await products.lock_resupply(wait=wait):
                    span.set_attribute(RESUPPLY_SKIPPED, "lock_held_elsewhere")
                    return None
                product_ids = await products.resupply_below(
                    threshold=self._rules.resupply_threshold,
                    amount=self._rules.resupply_amount,
                    transaction_id=transaction_id,
                    vendor_id=vendor_id,
                )
            span.set_attribute(RESUPPLY_PRODUCTS, len(product_ids))
            if product_ids:
                span.set_attribute(TRANSACTION_ID, str(transaction_id))
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
        return await self._products.count_below(self._rules.resupply_threshold)


@dataclass(frozen=True, slots=True)
class StockServices:
    """Makes the StockService of one connection; built once per app, from its settings."""

    engine: AsyncEngine
    rules: StockRules
    tracer: Tracer
    instruments: Instruments
    signal_low_stock: bool

    def __call__(self, connection: AsyncConnection) -> StockService:
        return StockService(
            connection,
            engine=self.engine,
            rules=self.rules,
            tracer=self.tracer,
            instruments=self.instruments,
            signal_low_stock=self.signal_low_stock,
        )
