"""What one request leaves behind, read from in-memory exporters: span tree, names, status, metrics, logs.

The app runs in this process (Litestar's test client) with providers handed in, so every span,
metric point and log record it produces can be inspected. PostgreSQL and Redis are the real ones.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, NumberDataPoint
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import CollectorRegistry

from suppliers.app import create_app
from suppliers.settings import Settings
from suppliers.telemetry.http import CLIENT_TEXT_LIMIT
from suppliers.telemetry.setup import Telemetry
from tests.rows import MakeProduct, MakeUser, MakeVendor


@dataclass
class Traced:
    client: AsyncTestClient[Any]
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    logs: InMemoryLogRecordExporter

    async def login(self, username: str) -> dict[str, str]:
        response = await self.client.post("/login/token", data={"username": username, "password": username})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def trace_of(self, response: Any) -> list[ReadableSpan]:
        """Every span of the trace whose id the response carries in its ``traceresponse`` header."""
        trace_id = int(response.headers["traceresponse"].split("-")[1], 16)
        return [s for s in self.spans.get_finished_spans() if s.context.trace_id == trace_id]

    def points(self, name: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        assert data is not None
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]


@pytest.fixture
async def traced(database_url: str, redis_url: str) -> AsyncIterator[Traced]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    metrics = InMemoryMetricReader()
    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    registry = CollectorRegistry()
    telemetry = Telemetry(
        tracer_provider=tracer_provider,
        meter_provider=MeterProvider(metric_readers=[metrics, PrometheusMetricReader(registry=registry)]),
        logger_provider=logger_provider,
        prometheus_registry=registry,
    )
    settings = Settings.from_env(
        {},
        database_url=database_url,
        redis_url=redis_url,
        auto_resupply=False,
        playground=True,
        log_level="INFO",
    )
    app = create_app(settings, telemetry=telemetry)
    async with AsyncTestClient(app) as client:
        yield Traced(client, spans, metrics, logs)


def one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, f"expected one {name!r} span, got {[s.name for s in spans]}"
    return found[0]


def children(spans: Sequence[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def withdrawal(product_id: uuid.UUID, vendor_id: uuid.UUID, quantity: int = 1) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "product_id": str(product_id),
        "vendor_id": str(vendor_id),
        "action": "withdrawal",
        "quantity": quantity,
    }


async def test_a_withdrawal_is_its_request_span_over_one_redis_and_one_sql_span(
    traced: Traced, make_vendor: MakeVendor, make_product: MakeProduct, make_user: MakeUser
) -> None:
    vendor = await make_vendor("A")
    product = await make_product(quantity=10)
    headers = await traced.login(await make_user(vendor))

    response = await traced.client.post("/transactions", json=withdrawal(product, vendor, 3), headers=headers)

    assert response.status_code == 201, response.text
    spans = traced.trace_of(response)
    server = one(spans, "POST /transactions")
    assert server.kind is SpanKind.SERVER
    assert server.parent is None
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/transactions"
    assert server.attributes["http.request.method"] == "POST"
    assert server.attributes["http.response.status_code"] == 201
    assert server.status.status_code is StatusCode.UNSET

    # The withdrawal is told on the request's span: no child span of attributes only.
    assert server.attributes["suppliers.product.id"] == str(product)
    assert server.attributes["suppliers.vendor.id"] == str(vendor)
    assert server.attributes["suppliers.inventory.action"] == "withdrawal"
    assert server.attributes["suppliers.inventory.quantity"] == 3
    assert server.attributes["suppliers.inventory.outcome"] == "success"
    assert server.attributes["suppliers.product.stock"] == 7
    assert server.attributes["enduser.id"]

    sql = [s for s in children(spans, server) if (s.attributes or {}).get("db.system.name") == "postgresql"]
    assert [s.kind for s in sql] == [SpanKind.CLIENT] * len(sql)
    # One statement, in autocommit (no BEGIN/COMMIT round trips): it checks the facts, claims the
    # id, inserts the line and moves the stock, and commits or fails as a whole. Its span is named
    # by what it does, not by its first keyword (WITH).
    assert [s.name for s in sql] == ["movement transactions"]
    assert sql[0].attributes is not None
    assert sql[0].attributes["db.query.summary"] == "movement transactions"
    statement = str(sql[0].attributes["db.query.text"])
    assert "INSERT INTO transactions" in statement and "UPDATE products" in statement

    # A session found in the cache is one Redis GET, straight under the request: no wrapper span.
    # Whether it was a hit is on the request's span, where a trace search finds it.
    assert server.attributes["suppliers.session_cache.result"] == "hit"
    redis_calls = [
        s for s in children(spans, server) if (s.attributes or {}).get("db.system.name") == "redis"
    ]
    assert [s.name for s in redis_calls] == ["GET"]
    assert redis_calls[0].kind is SpanKind.CLIENT
    # The whole trace: the request, its session lookup, its statement.
    assert sorted(s.name for s in spans) == ["GET", "POST /transactions", "movement transactions"]

    # Every statement has exactly one span: no second instrumentation doubling them.
    assert not [s for s in spans if s.name.startswith(("connect", "sqlalchemy"))]
    # No per-message receive/send spans.
    assert not [s for s in spans if s.name.endswith((" receive", " send"))]


async def test_span_names_and_routes_use_the_template_not_the_id(traced: Traced) -> None:
    headers = await traced.login("a")
    listing = await traced.client.get("/products?limit=2", headers=headers)
    ids = [item["id"] for item in listing.json()["items"]]

    responses = [await traced.client.get(f"/products/{product_id}", headers=headers) for product_id in ids]

    servers = [one(traced.trace_of(r), "GET /products/{product_id}") for r in responses]
    assert {s.attributes["http.route"] for s in servers if s.attributes} == {"/products/{product_id}"}
    routes = {p.attributes.get("http.route") for p in traced.points("http.server.request.duration")}
    assert "/products/{product_id}" in routes
    assert not [route for route in routes if route and any(product_id in route for product_id in ids)]


async def test_a_rule_violation_is_visible_but_not_an_error(
    traced: Traced, make_vendor: MakeVendor, make_product: MakeProduct, make_user: MakeUser
) -> None:
    vendor = await make_vendor("A")
    product = await make_product(quantity=2)
    headers = await traced.login(await make_user(vendor))

    response = await traced.client.post("/transactions", json=withdrawal(product, vendor, 5), headers=headers)

    assert response.status_code == 409
    spans = traced.trace_of(response)
    server = one(spans, "POST /transactions")
    assert server.attributes is not None and server.attributes["http.response.status_code"] == 409
    assert server.status.status_code is StatusCode.UNSET
    assert server.attributes["suppliers.inventory.outcome"] == "insufficient_stock"
    [event] = [e for e in server.events if e.name == "rule_violation"]
    assert event.attributes is not None and event.attributes["suppliers.rule"] == "InsufficientStock"


async def test_a_server_error_sets_status_error_with_the_exception(traced: Traced) -> None:
    response = await traced.client.get("/playground/error")

    assert response.status_code == 500
    spans = traced.trace_of(response)
    server = one(spans, "GET /playground/error")
    assert server.status.status_code is StatusCode.ERROR
    assert [
        e.attributes["exception.type"] for e in server.events if e.name == "exception" and e.attributes
    ] == ["suppliers.playground.service.PlaygroundFailure"]
    assert one(spans, "playground.fail").status.status_code is StatusCode.ERROR
    errors = [r for r in traced.logs.get_finished_logs() if r.log_record.severity_text == "ERROR"]
    assert any(r.log_record.trace_id == server.context.trace_id for r in errors)


async def test_an_incoming_traceparent_is_continued_and_the_trace_id_returned(traced: Traced) -> None:
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"

    response = await traced.client.get("/", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})

    assert response.headers["traceresponse"].split("-")[1] == trace_id
    server = one(traced.trace_of(response), "GET /")
    assert server.parent is not None and f"{server.parent.span_id:016x}" == parent_id


async def test_synthetic_traffic_is_marked_from_its_baggage(traced: Traced) -> None:
    tagged = await traced.client.get("/", headers={"baggage": "synthetic_request=true,other=x"})
    plain = await traced.client.get("/", headers={"baggage": "other=x"})

    tagged_span = one(traced.trace_of(tagged), "GET /")
    plain_span = one(traced.trace_of(plain), "GET /")
    assert (
        tagged_span.attributes is not None and tagged_span.attributes["suppliers.synthetic_request"] is True
    )
    assert plain_span.attributes is not None and "suppliers.synthetic_request" not in plain_span.attributes
    assert "other" not in tagged_span.attributes


async def test_what_a_client_writes_is_kept_on_the_span_only_so_long(traced: Traced) -> None:
    long = "x" * 5000

    response = await traced.client.get(f"/nowhere/{long}", params={"q": long}, headers={"user-agent": long})

    assert response.status_code == 404
    [server] = [s for s in traced.trace_of(response) if s.kind is SpanKind.SERVER]
    assert server.name == "GET"  # no route: named by the method alone, not the path
    assert server.attributes is not None
    for attribute in ("url.path", "url.query", "user_agent.original"):
        assert len(str(server.attributes[attribute])) == CLIENT_TEXT_LIMIT, attribute


async def test_a_method_the_conventions_do_not_know_mints_no_new_name_or_series(traced: Traced) -> None:
    responses = [await traced.client.request(method, "/") for method in ("BREW", "WHEN", "PROPFIND")]

    servers = [s for r in responses for s in traced.trace_of(r) if s.kind is SpanKind.SERVER]
    assert {s.name for s in servers} == {"HTTP"}
    assert {(s.attributes or {}).get("http.request.method") for s in servers} == {"_OTHER"}
    methods = {p.attributes.get("http.request.method") for p in traced.points("http.server.request.duration")}
    assert "_OTHER" in methods and not methods & {"BREW", "WHEN", "PROPFIND"}


async def test_probes_scrapes_and_docs_are_not_traced(traced: Traced) -> None:
    for path in ("/health/live", "/health/ready", "/metrics", "/schema/openapi.json"):
        response = await traced.client.get(path)
        assert response.status_code == 200, (path, response.text)
        assert "traceresponse" not in response.headers, path
    assert not [s for s in traced.spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert not [r for r in traced.logs.get_finished_logs() if "/health/" in str(r.log_record.body)]


async def test_metrics_count_requests_by_route_with_exemplars_and_business_outcomes(
    traced: Traced, make_vendor: MakeVendor, make_product: MakeProduct, make_user: MakeUser
) -> None:
    vendor = await make_vendor("A")
    product = await make_product(quantity=1)
    headers = await traced.login(await make_user(vendor))
    ok = await traced.client.post("/transactions", json=withdrawal(product, vendor), headers=headers)
    refused = await traced.client.post("/transactions", json=withdrawal(product, vendor), headers=headers)
    assert (ok.status_code, refused.status_code) == (201, 409)

    durations = [
        p
        for p in traced.points("http.server.request.duration")
        if p.attributes.get("http.route") == "/transactions"
    ]
    assert {p.attributes["http.response.status_code"] for p in durations} == {201, 409}
    assert all(isinstance(p, HistogramDataPoint) for p in durations)
    trace_ids = {int(r.headers["traceresponse"].split("-")[1], 16) for r in (ok, refused)}
    exemplar_traces = {e.trace_id for p in durations for e in p.exemplars}
    assert trace_ids <= exemplar_traces
    # Only histograms keep exemplars: a counter's would link "one more" to a trace nobody follows.
    counted = traced.points("suppliers.inventory.transactions") + traced.points("http.server.active_requests")
    assert counted and not [p for p in counted if p.exemplars]

    outcomes = {
        (attributes["suppliers.inventory.action"], attributes["suppliers.inventory.outcome"]): p.value
        for p in traced.points("suppliers.inventory.transactions")
        if isinstance(p, NumberDataPoint) and (attributes := p.attributes or {})
    }
    assert outcomes[("withdrawal", "success")] >= 1
    assert outcomes[("withdrawal", "insufficient_stock")] >= 1
    assert sum(p.value for p in traced.points("suppliers.inventory.units")) >= 1
    logins = {p.attributes["suppliers.login.outcome"] for p in traced.points("suppliers.auth.logins")}
    assert "success" in logins
    cache = {
        p.attributes["suppliers.session_cache.result"]
        for p in traced.points("suppliers.auth.session_cache.lookups")
    }
    assert "hit" in cache
    pool = {p.attributes["db.client.connection.state"] for p in traced.points("db.client.connection.count")}
    assert pool == {"idle", "used"}
    assert [p.value for p in traced.points("db.client.connection.max")] == [30]
    assert traced.points("process.cpu.time") and traced.points("process.memory.usage")


async def test_access_lines_of_refused_or_slow_requests_are_exported_with_their_trace(traced: Traced) -> None:
    """The server span holds every request's facts; an access line is exported only when it is worth
    reading by itself: a 4xx/5xx, or slower than the latency objective (500 ms)."""

    def access_lines(response: object) -> list[ReadableLogRecord]:
        trace_id = int(response.headers["traceresponse"].split("-")[1], 16)  # type: ignore[attr-defined]
        return [
            r
            for r in traced.logs.get_finished_logs()
            if r.log_record.trace_id == trace_id
            and r.instrumentation_scope is not None
            and r.instrumentation_scope.name == "suppliers.access"
        ]

    plain, missing, slow = (
        await traced.client.get("/"),
        await traced.client.get("/vendors"),  # no token: 401
        await traced.client.get("/hello", params={"delay": "0.6"}),
    )
    assert access_lines(plain) == []
    [refused] = access_lines(missing)
    assert refused.log_record.attributes is not None
    assert refused.log_record.attributes["http.response.status_code"] == 401
    [slowest] = access_lines(slow)
    assert str(slowest.log_record.body).startswith("GET /hello 200 ")
    assert slowest.log_record.attributes is not None
    assert slowest.log_record.attributes["http.route"] == "/hello"


async def test_a_manual_resupply_is_traced_under_its_request(
    traced: Traced, make_product: MakeProduct
) -> None:
    await make_product(quantity=0)
    headers = await traced.login("a")

    response = await traced.client.put("/products/quantity", headers=headers)

    assert response.status_code == 200, response.text
    resupply = one(traced.trace_of(response), "inventory.resupply")
    assert resupply.attributes is not None
    assert resupply.attributes["suppliers.resupply.trigger"] == "manual"
    products = resupply.attributes["suppliers.resupply.products"]
    assert isinstance(products, int) and products >= 1


async def test_the_automatic_resupply_job_is_its_own_root_span(
    database_url: str, redis_url: str, make_product: MakeProduct
) -> None:
    await make_product(quantity=0)
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    telemetry = Telemetry(tracer_provider=tracer_provider, meter_provider=MeterProvider())
    settings = Settings.from_env(
        {},
        database_url=database_url,
        redis_url=redis_url,
        auto_resupply=True,
        auto_resupply_interval_seconds=0.2,
    )
    async with AsyncTestClient(create_app(settings, telemetry=telemetry)):
        for _ in range(100):
            runs = [s for s in spans.get_finished_spans() if s.name == "inventory.stock_watch"]
            if runs:
                break
            await asyncio.sleep(0.05)
    run = runs[0]
    assert run.parent is None
    assert run.attributes is not None and run.attributes["suppliers.resupply.trigger"] == "scheduled"
    resupply = one(children(spans.get_finished_spans(), run), "inventory.resupply")
    assert resupply.attributes is not None
    products = resupply.attributes["suppliers.resupply.products"]
    assert isinstance(products, int) and products >= 1


async def test_playground_slow_request_spends_its_time_in_one_sql_span(traced: Traced) -> None:
    response = await traced.client.get("/playground/slow?seconds=0.3")

    assert response.status_code == 200
    spans = traced.trace_of(response)
    sleep = one(children(spans, one(spans, "playground.slow_query")), "SELECT")
    assert sleep.attributes is not None and "pg_sleep" in str(sleep.attributes["db.query.text"])
    assert (sleep.end_time or 0) - (sleep.start_time or 0) >= 0.3e9


async def test_playground_lock_wait_shows_the_waiter_blocked_on_the_row_lock(traced: Traced) -> None:
    response = await traced.client.post("/playground/lock-wait?seconds=0.5")

    assert response.status_code == 200, response.text
    assert response.json()["waited_seconds"] >= 0.3
    spans = traced.trace_of(response)
    waiter = one(spans, "playground.waiter")
    lock = [
        s for s in children(spans, waiter) if "FOR UPDATE" in str((s.attributes or {}).get("db.query.text"))
    ]
    assert len(lock) == 1 and (lock[0].end_time or 0) - (lock[0].start_time or 0) >= 0.3e9
    assert one(spans, "playground.holder").parent == waiter.parent


async def test_playground_deadlock_ends_one_transaction_span_in_error(traced: Traced) -> None:
    response = await traced.client.post("/playground/deadlock")

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["victim"] in {"a", "b"} and report["error"] == "deadlock detected"
    spans = traced.trace_of(response)
    victim = one(spans, f"playground.transaction_{report['victim']}")
    survivor = one(spans, "playground.transaction_" + ("b" if report["victim"] == "a" else "a"))
    assert victim.status.status_code is StatusCode.ERROR
    assert survivor.status.status_code is StatusCode.UNSET
    assert one(spans, "POST /playground/deadlock").status.status_code is StatusCode.UNSET
