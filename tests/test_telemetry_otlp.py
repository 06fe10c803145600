"""The app under uvicorn exports real OTLP: traces, metrics with exemplars and logs reach a receiver.

Also: the exporters never get in the way (a collector that hangs costs requests nothing, queues
drop instead of growing), what is still queued is flushed on shutdown, and gRPC is one variable away.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from suppliers.embedded.postgres import free_port
from suppliers.telemetry.logs import CollectorUnreachable
from tests.conftest import login
from tests.otlp_receiver import BlackHole, OtlpReceiver, attributes, wait_for
from tests.rows import MakeProduct, MakeUser, MakeVendor
from tests.servers import ApiProcess

# Short schedules so the test does not wait for the defaults (5 s spans, 60 s metrics).
FAST_EXPORT = {
    "OTEL_SDK_DISABLED": "false",
    "OTEL_BSP_SCHEDULE_DELAY": "100",
    "OTEL_BLRP_SCHEDULE_DELAY": "100",
    "OTEL_METRIC_EXPORT_INTERVAL": "300",
    "SUPPLIERS_LOG_LEVEL": "INFO",
}


@pytest.fixture
def servers(database_url: str, redis_url: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "REDIS_URL": redis_url}


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


def trace_id_of(response: httpx.Response) -> bytes:
    return bytes.fromhex(response.headers["traceresponse"].split("-")[1])


async def test_traces_metrics_with_exemplars_and_logs_arrive_over_otlp_http(
    servers: dict[str, str],
    receiver: OtlpReceiver,
    tmp_path: Path,
    make_vendor: MakeVendor,
    make_product: MakeProduct,
    make_user: MakeUser,
) -> None:
    vendor = await make_vendor("B")
    product = await make_product(quantity=5, required="C")
    username = await make_user(vendor)
    env = {**servers, **FAST_EXPORT, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
    api = ApiProcess(env, log_path=tmp_path / "api.log").start()
    try:
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
            headers = await login(http, username)
            body = {
                "product_id": str(product),
                "vendor_id": str(vendor),
                "action": "withdrawal",
                "quantity": 2,
            }
            response = await http.post(
                "/transactions", json={"id": str(uuid.uuid4()), **body}, headers=headers
            )
            refused = await http.post("/transactions", json={**body, "quantity": 1000}, headers=headers)
        assert response.status_code == 201, response.text
        assert refused.status_code == 409, refused.text
        trace_id = trace_id_of(response)

        def this_trace() -> list[tuple[dict[str, Any], Any]]:
            found = [(r, s) for r, s in receiver.spans() if s.trace_id == trace_id]
            return found if any(s.name == "POST /transactions" for _, s in found) else []

        spans = await asyncio.to_thread(wait_for, this_trace, what="trace of the withdrawal")
        resource = spans[0][0]
        assert resource["service.name"] == "suppliers-api"
        assert resource["service.version"]
        assert resource["deployment.environment.name"] == "development"
        assert uuid.UUID(resource["service.instance.id"])
        names = {s.name for _, s in spans}
        assert names == {"POST /transactions", "movement transactions", "GET"}
        [server] = [s for _, s in spans if s.name == "POST /transactions"]
        assert attributes(server.attributes)["http.route"] == "/transactions"

        def exemplars() -> list[Any]:
            return [
                exemplar
                for _, metric in receiver.metrics()
                if metric.name == "http.server.request.duration"
                for point in metric.histogram.data_points
                if attributes(point.attributes).get("http.route") == "/transactions"
                for exemplar in point.exemplars
                if exemplar.trace_id == trace_id
            ]

        [exemplar, *_] = await asyncio.to_thread(wait_for, exemplars, what="exemplar of the withdrawal")
        assert exemplar.span_id == server.span_id

        def business_points() -> list[Any]:
            return [
                attributes(point.attributes)
                for _, metric in receiver.metrics()
                if metric.name == "suppliers.inventory.transactions"
                for point in metric.sum.data_points
            ]

        points = await asyncio.to_thread(wait_for, business_points, what="business metrics")
        assert {
            "suppliers.inventory.action": "withdrawal",
            "suppliers.inventory.outcome": "success",
        } in points
        metric_names = {metric.name for _, metric in receiver.metrics()}
        assert {"db.client.connection.count", "process.cpu.time", "suppliers.auth.logins"} <= metric_names

        def access_log() -> list[Any]:
            return [
                record
                for _, record in receiver.logs()
                if record.trace_id == trace_id_of(refused)
                and "POST /transactions 409" in record.body.string_value
            ]

        # A refusal's access line goes to Loki too; a plain 201's stays on the console (its span says it all).
        [record] = await asyncio.to_thread(wait_for, access_log, what="access log line of the refusal")
        assert record.severity_text == "INFO"
        assert attributes(record.attributes)["http.route"] == "/transactions"
        assert not [
            r
            for _, r in receiver.logs()
            if r.trace_id == trace_id and "POST /transactions 201" in r.body.string_value
        ]
    finally:
        api.stop()
    # The console has the same line, with the ids a reader copies into Tempo.
    assert f"trace_id={trace_id.hex()}" in api.log()


async def test_what_is_still_queued_is_flushed_on_shutdown(
    servers: dict[str, str], receiver: OtlpReceiver, tmp_path: Path
) -> None:
    # Schedules far longer than the test: only the shutdown flush can deliver these.
    env = {
        **servers,
        **FAST_EXPORT,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "600000",
        "OTEL_BLRP_SCHEDULE_DELAY": "600000",
        "OTEL_METRIC_EXPORT_INTERVAL": "600000",
    }
    api = ApiProcess(env, log_path=tmp_path / "api.log").start()
    # Slower than the latency objective: its access line is exported too.
    response = httpx.get(f"{api.base_url}/hello?delay=0.6")
    trace_id = trace_id_of(response)
    assert not [s for _, s in receiver.spans() if s.trace_id == trace_id]

    api.stop()

    assert [s.name for _, s in receiver.spans() if s.trace_id == trace_id] == ["GET /hello"]
    assert [r for _, r in receiver.logs() if r.trace_id == trace_id]
    assert any(m.name == "http.server.request.duration" for _, m in receiver.metrics())


async def test_a_hanging_collector_costs_requests_nothing_and_queues_stay_bounded(
    servers: dict[str, str], tmp_path: Path
) -> None:
    with BlackHole() as collector:
        env = {
            **servers,
            **FAST_EXPORT,
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
            "OTEL_BSP_MAX_QUEUE_SIZE": "64",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "16",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "10",
        }
        api = ApiProcess(env, log_path=tmp_path / "api.log").start()
        try:
            async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
                slowest = 0.0
                statuses: set[int] = set()
                for _ in range(40):
                    started = time.perf_counter()
                    batch = await asyncio.gather(*(http.get("/") for _ in range(10)))
                    slowest = max(slowest, time.perf_counter() - started)
                    statuses |= {r.status_code for r in batch}
            stop_started = time.perf_counter()
        finally:
            api.stop()
        stopped_in = time.perf_counter() - stop_started
    assert statuses == {200}
    # Each export attempt waits up to 10 s on the hung collector. Had one request waited for it,
    # its batch would take seconds; this bound is about blocking, not speed.
    assert slowest < 2.5, slowest
    # 400 requests' spans through a queue of 64: the rest were dropped, and the log says so.
    assert "Queue full, dropping" in api.log()
    # Shutdown gives the final flush a bounded time instead of every exporter's full timeout.
    assert stopped_in < 12, stopped_in


async def test_without_a_collector_the_console_says_so_once_in_one_line(
    servers: dict[str, str], tmp_path: Path
) -> None:
    """A newcomer's `make run` with nothing on the OTLP port: one line with the cause and the fix,
    not each exporter's retries as raw connection-pool warnings."""
    nobody = free_port()
    env = {
        **servers,
        **FAST_EXPORT,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{nobody}",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2",
    }
    api = ApiProcess(env, log_path=tmp_path / "api.log").start()
    try:
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
            for _ in range(8):  # every signal fails and retries several times meanwhile
                assert (await http.get("/hello")).status_code == 200
                await asyncio.sleep(0.5)
    finally:
        api.stop()
    log = api.log()
    said = [line for line in log.splitlines() if "no OpenTelemetry collector answers" in line]
    assert len(said) == 1, log
    assert f"127.0.0.1:{nobody}" in said[0]
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in said[0] and "OTEL_SDK_DISABLED=true" in said[0]
    assert "Transient error" not in log and "HTTPConnectionPool" not in log and "Traceback" not in log


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []

    def Export(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


async def test_otlp_grpc_is_chosen_by_the_standard_protocol_variable(
    servers: dict[str, str], tmp_path: Path
) -> None:
    service = _TraceService()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    env = {
        **servers,
        **FAST_EXPORT,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
    api = ApiProcess(env, log_path=tmp_path / "api.log").start()
    try:
        trace_id = trace_id_of(httpx.get(f"{api.base_url}/"))

        def received() -> list[str]:
            return [
                span.name
                for request in list(service.requests)
                for resource_spans in request.resource_spans
                for scope_spans in resource_spans.scope_spans
                for span in scope_spans.spans
                if span.trace_id == trace_id
            ]

        assert await asyncio.to_thread(wait_for, received, what="spans over gRPC") == ["GET /"]
    finally:
        api.stop()
        server.stop(grace=None)


def test_telemetry_off_means_no_metrics_route_and_no_trace_header(api: ApiProcess) -> None:
    # The shared test API runs with OTEL_SDK_DISABLED=true.
    assert httpx.get(f"{api.base_url}/metrics").status_code == 404
    response = httpx.get(f"{api.base_url}/")
    assert response.status_code == 200 and "traceresponse" not in response.headers


# What the SDK's OTLP/HTTP exporters log while nothing listens on the endpoint (SDK 1.45 wording).
_TRACES = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
_REFUSED = (
    "HTTPConnectionPool(host='localhost', port=4318): Max retries exceeded ([Errno 111] Connection refused)"
)
_TRANSIENT = "Transient error %s encountered while exporting %s batch, retrying in %.2fs."


def sdk_record(logger: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(logger, logging.WARNING, __file__, 1, msg, args, None)


def test_the_collector_line_comes_back_once_a_minute_per_endpoint_and_other_complaints_pass() -> None:
    unreachable = CollectorUnreachable(interval_seconds=60)
    traces = sdk_record(_TRACES, _TRANSIENT, _REFUSED, "spans", 1.0)
    metrics = sdk_record(
        "opentelemetry.exporter.otlp.proto.http.metric_exporter", _TRANSIENT, _REFUSED, "metrics", 1.0
    )
    failed = sdk_record(
        "opentelemetry.exporter.otlp.proto.http._log_exporter",
        "Failed to export %s batch due to timeout, max retries or shutdown.",
        "logs",
    )
    refused_by_collector = sdk_record(
        _TRACES, "Failed to export %s batch code: %s, reason: %s", "spans", 400, "Bad Request"
    )

    assert unreachable.filter(traces)
    assert traces.getMessage().startswith(
        "telemetry is not being exported: no OpenTelemetry collector answers at localhost:4318"
    )
    assert not unreachable.filter(metrics)  # same endpoint, within the minute
    assert not unreachable.filter(failed)  # the consequence, already explained
    assert unreachable.filter(refused_by_collector)  # a different problem: said as it is
    assert unreachable.filter(sdk_record("opentelemetry.sdk.trace", "Queue full, dropping %s.", "Span"))


def test_workers_sharing_a_directory_say_it_once_between_them(tmp_path: Path) -> None:
    first, second = (CollectorUnreachable(interval_seconds=60, shared_dir=tmp_path) for _ in range(2))

    def transient() -> logging.LogRecord:
        return sdk_record(_TRACES, _TRANSIENT, _REFUSED, "spans", 1.0)

    assert first.filter(transient())
    assert not second.filter(transient())  # another worker of the same server said it this minute
    assert not first.filter(transient())
