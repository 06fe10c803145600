"""A real OTLP receiver for the tests: decodes what it is sent with opentelemetry-proto.

It answers like a collector (200 with an empty response message) and keeps every decoded request,
so a test can look at the spans, metric points and log records exactly as they left the sender.
OTLP/HTTP on ``endpoint`` (any path prefix: Loki's is ``/otlp``), and with ``with_grpc=True`` OTLP/gRPC
on ``grpc_endpoint`` too, which is how the stack's collector talks to Tempo.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric, ResourceMetrics, ScopeMetrics
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

T = TypeVar("T")

REFUSE_MARK = "suppliers.test.refuse"


def value_of(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: value_of(pair.value) for pair in pairs if isinstance(pair, KeyValue)}


def _resource_data(message: Any) -> Any:
    for name in ("resource_spans", "resource_metrics", "resource_logs"):
        if hasattr(message, name):
            return getattr(message, name)
    return []


@dataclass
class Received:
    traces: list[ExportTraceServiceRequest] = field(default_factory=list)
    metrics: list[ExportMetricsServiceRequest] = field(default_factory=list)
    logs: list[ExportLogsServiceRequest] = field(default_factory=list)


class OtlpReceiver:
    """Listens on 127.0.0.1 at free ports; ``endpoint`` is what OTEL_EXPORTER_OTLP_ENDPOINT takes."""

    _paths: dict[str, tuple[type[Any], Any, str]] = {
        "/v1/traces": (ExportTraceServiceRequest, ExportTraceServiceResponse(), "traces"),
        "/v1/metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse(), "metrics"),
        "/v1/logs": (ExportLogsServiceRequest, ExportLogsServiceResponse(), "logs"),
    }

    def __init__(self, *, with_grpc: bool = False, refuse_marked: bool = False) -> None:
        """``refuse_marked``: refuse requests from a resource with ``suppliers.test.refuse=true``
        the way a backend refuses invalid data (HTTP 400, gRPC INVALID_ARGUMENT: not retried)."""
        self.received = Received()
        # When each request of ``received`` arrived (time.monotonic()), in the same order.
        self.arrivals: dict[str, list[float]] = {"traces": [], "metrics": [], "logs": []}
        self._refuse_marked = refuse_marked
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                suffix = "/v1/" + self.path.rsplit("/v1/", 1)[-1]
                route = receiver._paths.get(suffix)
                if route is None:
                    self.send_error(404)
                    return
                message_type, answer, bucket = route
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                message = message_type()
                message.ParseFromString(body)
                if not receiver._keep(bucket, message):
                    self.send_error(400, "refused: marked suppliers.test.refuse")
                    return
                payload = answer.SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.refused = 0
        self._grpc: grpc.Server | None = None
        self.grpc_endpoint = ""
        if with_grpc:
            self._grpc = self._grpc_server()

    def _keep(self, bucket: str, message: Any) -> bool:
        """Store a request, or refuse it (False) when it is marked to be refused."""
        if self._refuse_marked and any(
            attributes(resource_data.resource.attributes).get(REFUSE_MARK) is True
            for resource_data in _resource_data(message)
        ):
            with self._lock:
                self.refused += 1
            return False
        with self._lock:
            getattr(self.received, bucket).append(message)
            self.arrivals[bucket].append(time.monotonic())
        return True

    def _grpc_server(self) -> grpc.Server:
        keep = self._keep

        class Traces(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: ExportTraceServiceRequest, context: Any) -> ExportTraceServiceResponse:
                if not keep("traces", request):
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, "refused: marked suppliers.test.refuse")
                return ExportTraceServiceResponse()

        class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
            def Export(
                self, request: ExportMetricsServiceRequest, context: Any
            ) -> ExportMetricsServiceResponse:
                if not keep("metrics", request):
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, "refused: marked suppliers.test.refuse")
                return ExportMetricsServiceResponse()

        class Logs(logs_service_pb2_grpc.LogsServiceServicer):
            def Export(self, request: ExportLogsServiceRequest, context: Any) -> ExportLogsServiceResponse:
                if not keep("logs", request):
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, "refused: marked suppliers.test.refuse")
                return ExportLogsServiceResponse()

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        self.grpc_endpoint = f"127.0.0.1:{port}"
        return server

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        if self._grpc is not None:
            self._grpc.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._grpc is not None:
            self._grpc.stop(grace=None)
        self._server.shutdown()
        self._server.server_close()

    def spans(self) -> Iterator[tuple[dict[str, Any], Span]]:
        """Every span received, with the attributes of the resource that sent it."""
        with self._lock:
            requests = list(self.received.traces)
        for request in requests:
            for resource_spans in request.resource_spans:
                resource = attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        yield resource, span

    def trace_arrivals(self) -> dict[str, float]:
        """When the first span of each trace arrived (hex trace id → time.monotonic())."""
        with self._lock:
            requests = list(zip(self.received.traces, self.arrivals["traces"], strict=True))
        first: dict[str, float] = {}
        for request, arrived in requests:
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        first.setdefault(span.trace_id.hex(), arrived)
        return first

    def metrics(self) -> Iterator[tuple[dict[str, Any], Metric]]:
        with self._lock:
            requests = list(self.received.metrics)
        for request in requests:
            for resource_metrics in request.resource_metrics:
                resource = attributes(resource_metrics.resource.attributes)
                for scope_metrics in resource_metrics.scope_metrics:
                    for metric in scope_metrics.metrics:
                        yield resource, metric

    def logs(self) -> Iterator[tuple[dict[str, Any], LogRecord]]:
        with self._lock:
            requests = list(self.received.logs)
        for request in requests:
            for resource_logs in request.resource_logs:
                resource = attributes(resource_logs.resource.attributes)
                for scope_logs in resource_logs.scope_logs:
                    for record in scope_logs.log_records:
                        yield resource, record


def spans_request(resource: Resource, spans: list[Span]) -> ExportTraceServiceRequest:
    """An OTLP export of ``spans`` from ``resource``, as an SDK would send it (one scope)."""
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=spans)])]
    )


def logs_request(resource: Resource, records: list[LogRecord]) -> ExportLogsServiceRequest:
    return ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(resource=resource, scope_logs=[ScopeLogs(log_records=records)])]
    )


def metrics_request(resource: Resource, metrics: list[Metric]) -> ExportMetricsServiceRequest:
    return ExportMetricsServiceRequest(
        resource_metrics=[ResourceMetrics(resource=resource, scope_metrics=[ScopeMetrics(metrics=metrics)])]
    )


def wait_for(find: Callable[[], T | None], *, timeout: float = 20.0, what: str = "data") -> T:
    """Poll until ``find`` returns something truthy: export happens on the SDK's schedule, not ours."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {what} arrived within {timeout:.0f} s")


class BlackHole:
    """A port that accepts TCP connections and never answers: a collector that hangs."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(512)
        self.endpoint = f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def __enter__(self) -> BlackHole:
        return self

    def __exit__(self, *_: object) -> None:
        self._socket.close()
