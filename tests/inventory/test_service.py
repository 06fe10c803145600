"""The inventory rules, service by service, on a rolled-back connection: no server, no HTTP.

Spans go to an in-memory exporter and metrics to an in-memory reader, so what a rule records
is checked beside what it decides.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from suppliers.auth.principal import Principal
from suppliers.errors import Forbidden, NotFound
from suppliers.inventory.errors import IdempotencyConflict, InsufficientStock, TransactionIdTaken
from suppliers.inventory.schemas import Page, TransactionIn, TransactionOut
from suppliers.inventory.services import CatalogService, StockRules, StockService, StockServices
from suppliers.telemetry.attributes import ACTION, OUTCOME
from suppliers.telemetry.instruments import Instruments
from tests.inventory.conftest import AddProduct, AddVendor, stock

THRESHOLD = 10


@dataclass
class Recorder:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    tracers: TracerProvider

    def request_span(self) -> Any:
        """What the server middleware opens around a request: the span a movement is told on."""
        return self.tracers.get_tracer("test").start_as_current_span("POST /transactions")

    def transactions_counted(self) -> dict[tuple[str, str], int]:
        data = self.metrics.get_metrics_data()
        assert data is not None
        counted: dict[tuple[str, str], int] = {}
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == "suppliers.inventory.transactions":
                        for point in metric.data.data_points:
                            attributes = point.attributes or {}
                            key = (str(attributes[ACTION]), str(attributes[OUTCOME]))
                            counted[key] = int(point.value)  # type: ignore[union-attr]
        return counted


@pytest.fixture
def recorder() -> Recorder:
    spans = InMemorySpanExporter()
    tracers = TracerProvider()
    tracers.add_span_processor(SimpleSpanProcessor(spans))
    return Recorder(spans=spans, metrics=InMemoryMetricReader(), tracers=tracers)


@pytest.fixture
def stock_service(connection: AsyncConnection, engine: AsyncEngine, recorder: Recorder) -> StockService:
    meters = MeterProvider(metric_readers=[recorder.metrics])
    make = StockServices(
        engine=engine,
        rules=StockRules(resupply_threshold=THRESHOLD, resupply_amount=50),
        tracer=recorder.tracers.get_tracer("test"),
        instruments=Instruments(meters.get_meter("test")),
        signal_low_stock=False,
    )
    return make(connection)


def vendor_user(vendor_id: uuid.UUID) -> Principal:
    return Principal(user_id=uuid.uuid4(), username="v", vendor_id=vendor_id, role="vendor")


OPERATOR = Principal(user_id=uuid.uuid4(), username="op", vendor_id=None, role="operator")


def withdrawal(product_id: uuid.UUID, vendor_id: uuid.UUID, quantity: int, **extra: object) -> TransactionIn:
    return TransactionIn(
        product_id=product_id,
        vendor_id=vendor_id,
        action="withdrawal",
        quantity=quantity,
        **extra,  # type: ignore[arg-type]
    )


async def test_a_withdrawal_moves_stock_and_a_retry_with_its_id_is_a_replay(
    stock_service: StockService,
    connection: AsyncConnection,
    add_vendor: AddVendor,
    add_product: AddProduct,
    recorder: Recorder,
) -> None:
    vendor_id, product_id = await add_vendor("B"), await add_product(quantity=30, required="B")
    request = withdrawal(product_id, vendor_id, 5, id=uuid.uuid4())
    first = await stock_service.record(vendor_user(vendor_id), request)
    again = await stock_service.record(vendor_user(vendor_id), request)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.transaction == first.transaction
    assert await stock(connection, product_id) == 25
    assert recorder.transactions_counted() == {("withdrawal", "success"): 1, ("withdrawal", "replayed"): 1}


async def test_the_same_id_with_another_body_is_a_conflict(
    stock_service: StockService, add_vendor: AddVendor, add_product: AddProduct
) -> None:
    vendor_id, product_id = await add_vendor("A"), await add_product(quantity=30)
    transaction_id = uuid.uuid4()
    await stock_service.record(
        vendor_user(vendor_id), withdrawal(product_id, vendor_id, 5, id=transaction_id)
    )
    with pytest.raises(IdempotencyConflict, match="another body"):
        await stock_service.record(
            vendor_user(vendor_id), withdrawal(product_id, vendor_id, 6, id=transaction_id)
        )


async def test_another_vendors_id_is_taken_and_says_nothing_about_it(
    stock_service: StockService, add_vendor: AddVendor, add_product: AddProduct
) -> None:
    owner, other = await add_vendor("A"), await add_vendor("A")
    product_id = await add_product(quantity=30)
    transaction_id = uuid.uuid4()
    await stock_service.record(vendor_user(owner), withdrawal(product_id, owner, 5, id=transaction_id))
    with pytest.raises(TransactionIdTaken) as refused:
        await stock_service.record(vendor_user(other), withdrawal(product_id, other, 5, id=transaction_id))
    assert str(owner) not in str(refused.value)


async def test_an_oversized_withdrawal_reports_what_is_available(
    stock_service: StockService,
    connection: AsyncConnection,
    add_vendor: AddVendor,
    add_product: AddProduct,
    recorder: Recorder,
) -> None:
    vendor_id, product_id = await add_vendor("A"), await add_product(quantity=4)
    with recorder.request_span(), pytest.raises(InsufficientStock) as refused:
        await stock_service.record(OPERATOR, withdrawal(product_id, vendor_id, 5))
    assert (refused.value.requested, refused.value.available) == (5, 4)
    assert await stock(connection, product_id) == 4
    assert recorder.transactions_counted() == {("withdrawal", "insufficient_stock"): 1}
    (span,) = recorder.spans.get_finished_spans()
    assert span.name == "POST /transactions"
    assert span.attributes is not None and span.attributes[OUTCOME] == "insufficient_stock"
    assert [event.name for event in span.events] == ["rule_violation"]


async def test_qualification_and_acting_for_another_vendor_are_refused(
    stock_service: StockService, connection: AsyncConnection, add_vendor: AddVendor, add_product: AddProduct
) -> None:
    vendor_c, product_a = await add_vendor("C"), await add_product(quantity=20, required="A")
    with pytest.raises(Forbidden, match="requires A or better"):
        await stock_service.record(OPERATOR, withdrawal(product_a, vendor_c, 1))
    other = await add_vendor("A")
    with pytest.raises(Forbidden, match="acts for vendor"):
        await stock_service.record(vendor_user(vendor_c), withdrawal(product_a, other, 1))
    with pytest.raises(NotFound, match="vendor"):
        await stock_service.record(OPERATOR, withdrawal(product_a, uuid.uuid4(), 1))
    with pytest.raises(NotFound, match="product"):
        await stock_service.record(OPERATOR, withdrawal(uuid.uuid4(), vendor_c, 1))
    assert await stock(connection, product_a) == 20


async def test_crossing_the_threshold_marks_the_span_once(
    stock_service: StockService, add_vendor: AddVendor, add_product: AddProduct, recorder: Recorder
) -> None:
    vendor_id, product_id = await add_vendor("A"), await add_product(quantity=THRESHOLD + 2)
    for _ in range(3):  # 12 → 10 → 8 (crosses) → 6 (already below)
        with recorder.request_span():
            await stock_service.record(OPERATOR, withdrawal(product_id, vendor_id, 2))
    marked = [
        span.attributes["suppliers.product.stock"]  # type: ignore[index]
        for span in recorder.spans.get_finished_spans()
        if any(event.name == "low_stock" for event in span.events)
    ]
    assert marked == [THRESHOLD - 2]


async def test_a_vendor_sees_only_its_own_lines_and_may_not_ask_for_others(
    stock_service: StockService, connection: AsyncConnection, add_vendor: AddVendor, add_product: AddProduct
) -> None:
    mine, theirs = await add_vendor("A"), await add_vendor("A")
    product_id = await add_product(quantity=50)
    their_line = await stock_service.record(vendor_user(theirs), withdrawal(product_id, theirs, 1))
    catalog = CatalogService(connection)
    with pytest.raises(NotFound):
        await catalog.transaction(vendor_user(mine), their_line.transaction.id)
    assert (await catalog.transaction(OPERATOR, their_line.transaction.id)).lines == [their_line.transaction]
    with pytest.raises(Forbidden):
        await first_lines(catalog, vendor_user(mine), vendor_id=theirs)
    page = await first_lines(catalog, vendor_user(mine), product_id=product_id)
    assert (page.items, page.total) == ([], 0)
    assert [line.id for line in (await first_lines(catalog, OPERATOR, product_id=product_id)).items] == [
        their_line.transaction.id
    ]


async def first_lines(
    catalog: CatalogService,
    viewer: Principal,
    *,
    vendor_id: uuid.UUID | None = None,
    product_id: uuid.UUID | None = None,
) -> Page[TransactionOut]:
    return await catalog.transactions(
        viewer,
        vendor_id=vendor_id,
        product_id=product_id,
        action=None,
        since=None,
        until=None,
        limit=10,
        offset=0,
    )
