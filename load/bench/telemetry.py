"""What each piece of our telemetry costs beside the bare SDK's floor, on this machine, in one run.

    cd load && PYTHONPATH=. ../.venv/bin/python -m bench.telemetry      (also run by `make bench`)

Every figure is process CPU (``time.process_time``: every thread, so the span processor's export
thread is counted) per operation, the median of ``TELEMETRY_REPEATS`` timed batches of
``TELEMETRY_LOOPS`` operations, with the spread of those batches (interquartile range ÷ median). Spans
are exported for real: BatchSpanProcessor → OTLP/HTTP → a discarding endpoint in another process
(its CPU is not ours), and every batch ends with a flush, so export is inside the window.

The floor is the SDK alone: a span with 5 attributes started and ended, with no processor, then
with the SDK's own OTLP/HTTP exporter. Each of our span kinds is measured as our code and our
instrumentations make it: a request through the server-span middleware (with its duration
histogram), the Redis ``GET`` of a session lookup, the SQL statement span, and what a withdrawal
adds to its request span; where the span wraps real work (an ASGI app, a Redis round trip) the same work
untraced is measured in the same batches and subtracted. Then the metric measurements of one request.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

# Set before the first instrumentation is imported, as the app does (telemetry/setup.py).
os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http,database")

from google.protobuf.internal import api_implementation  # type: ignore[import-untyped]
from litestar import Litestar, post
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode_spans
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Tracer
from opentelemetry.util.types import AttributeValue
from prometheus_client import CollectorRegistry
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from suppliers.embedded.redis import EmbeddedRedis
from suppliers.inventory.repositories import _WITHDRAWAL
from suppliers.telemetry.attributes import ACTION, CACHE_RESULT, OUTCOME
from suppliers.telemetry.otlp_spans import WireSpanExporter, encode_spans
from suppliers.telemetry.query_summary import QuerySummaries
from suppliers.telemetry.setup import Telemetry
from suppliers.telemetry.spans import on_request_span
from suppliers.telemetry.tallies import Tally

from .environment import Sink, report_dir, start_sink

LOOPS = int(os.environ.get("TELEMETRY_LOOPS", "3000"))
REPEATS = int(os.environ.get("TELEMETRY_REPEATS", "9"))
FIVE_ATTRIBUTES: dict[str, AttributeValue] = {
    "suppliers.product.id": str(uuid.uuid4()),
    "suppliers.vendor.id": str(uuid.uuid4()),
    "suppliers.inventory.action": "withdrawal",
    "suppliers.inventory.quantity": 1,
    "enduser.id": "b",
}
HTTP_ATTRIBUTES: dict[str, AttributeValue] = {
    "http.request.method": "POST",
    "http.route": "/transactions",
    "http.response.status_code": 201,
    "url.scheme": "http",
    "network.protocol.version": "1.1",
}
RESOURCE = Resource.create({"service.name": "suppliers-api", "service.instance.id": str(uuid.uuid4())})
# Meter providers made for a row, shut down before the sink they export to goes away.
_METERS: list[MeterProvider] = []


@dataclass(frozen=True)
class Row:
    kind: str
    what: str
    micros: float
    spread: float
    floor: float | None  # ours ÷ the floor of its kind, where one applies


@dataclass(frozen=True)
class Sample:
    micros: float
    spread: float


Batch = Callable[[int], None]


def measure(run: Batch, baseline: Batch | None = None) -> Sample:
    """CPU µs per operation of ``run`` (less ``baseline``'s, timed in the same rounds).

    One round first, untimed (caches, lazily built state); the spread is the interquartile range of
    the rounds over their median, which one round disturbed by the machine does not swing. The cyclic
    garbage collector is paused while a round is timed: when its passes fall is chance, and their
    cost is the end-to-end benchmark's to measure (the API tunes it, suppliers/runtime.py).
    """
    run(LOOPS)
    if baseline is not None:
        baseline(LOOPS)
    costs = []
    for _ in range(REPEATS):
        cost = _timed(run)
        if baseline is not None:
            cost -= _timed(baseline)
        costs.append(cost / LOOPS * 1e6)
    median = statistics.median(costs)
    low, _, high = statistics.quantiles(costs, n=4)
    return Sample(median, (high - low) / median if median else 0.0)


def _timed(batch: Batch) -> float:
    gc.collect()
    gc.disable()
    try:
        started = time.process_time()
        batch(LOOPS)
        return time.process_time() - started
    finally:
        gc.enable()


@contextmanager
def provider(exporter: SpanExporter | None, *processors: Any) -> Iterator[TracerProvider]:
    made = TracerProvider(resource=RESOURCE)
    for processor in processors:
        made.add_span_processor(processor)
    if exporter is not None:
        # A queue that holds a whole batch of the run: a tight loop outruns the export thread, and
        # a span dropped (with a warning each) would be a span whose export is not measured.
        made.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=4 * LOOPS))
    try:
        yield made
    finally:
        made.shutdown()


def flushed(tracers: TracerProvider, batch: Batch) -> Batch:
    """``batch`` then a flush: what its spans cost to export is inside the timed window."""

    def run(loops: int) -> None:
        batch(loops)
        tracers.force_flush()

    return run


def spans_of(tracer: Tracer) -> Batch:
    def run(loops: int) -> None:
        for _ in range(loops):
            with tracer.start_as_current_span("span", kind=SpanKind.INTERNAL, attributes=FIVE_ATTRIBUTES):
                pass

    return run


def on_loop(loop: asyncio.AbstractEventLoop, step: Callable[[], Awaitable[Any]]) -> Batch:
    async def steps(loops: int) -> None:
        for _ in range(loops):
            await step()

    return lambda loops: loop.run_until_complete(steps(loops))


def request_through(app: Litestar) -> Callable[[], Awaitable[None]]:
    """One ``POST /transactions`` through ``app``, as uvicorn hands it over (no network)."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/transactions",
        "raw_path": b"/transactions",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:5001"),
            (b"user-agent", b"wrk"),
            (b"content-type", b"application/json"),
            (b"authorization", b"Bearer x"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 5001),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_: Any) -> None:
        return None

    async def one() -> None:
        await app(dict(scope), receive, send)  # type: ignore[arg-type]

    return one


def transactions_app(plugins: Sequence[Any] = ()) -> Litestar:
    @post("/transactions", status_code=201)
    async def record() -> None:
        return None

    return Litestar([record], plugins=list(plugins), logging_config=None)


def meters(sink: Sink, *, exemplars: str = "trace_based") -> MeterProvider:
    """As deployed with one worker: an OTLP reader (its interval beyond the run) and /metrics's reader."""
    os.environ["OTEL_METRICS_EXEMPLAR_FILTER"] = exemplars
    otlp = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{sink.http}/v1/metrics"), export_interval_millis=3_600_000
    )
    prometheus = PrometheusMetricReader(registry=CollectorRegistry())
    made = MeterProvider(resource=RESOURCE, metric_readers=[otlp, prometheus])
    _METERS.append(made)
    return made


def floor_rows(sink: Sink) -> tuple[list[Row], float]:
    with provider(None) as bare:
        alone = measure(spans_of(bare.get_tracer("bench")))
    with provider(OTLPSpanExporter(endpoint=f"{sink.http}/v1/traces")) as sdk:
        exported = measure(flushed(sdk, spans_of(sdk.get_tracer("bench"))))
    with provider(WireSpanExporter(endpoint=f"{sink.http}/v1/traces")) as ours:
        wire = measure(flushed(ours, spans_of(ours.get_tracer("bench"))))
    encoded_by_sdk, encoded_by_us = encoding_samples()
    floor = exported.micros
    return [
        Row("floor", "SDK span, 5 attributes, no processor", alone.micros, alone.spread, None),
        Row("floor", "… + BatchSpanProcessor + SDK OTLP/HTTP exporter", floor, exported.spread, 1.0),
        Row(
            "floor",
            "… + BatchSpanProcessor + our wire encoder",
            wire.micros,
            wire.spread,
            wire.micros / floor,
        ),
        Row("encoding", "the SDK's encoder alone (512-span batches)", *encoded_by_sdk, None),
        Row("encoding", "our wire encoder alone (512-span batches)", *encoded_by_us, None),
    ], floor


def encoding_samples() -> tuple[tuple[float, float], tuple[float, float]]:
    """µs a span to turn finished spans into request bytes, each encoder alone, in the batches the
    BatchSpanProcessor hands over (512)."""
    finished = InMemorySpanExporter()
    with provider(None, SimpleSpanProcessor(finished)) as tracers:
        spans_of(tracers.get_tracer("bench"))(LOOPS)
    spans = finished.get_finished_spans()

    def in_batches(encode: Callable[[Sequence[ReadableSpan]], object]) -> Batch:
        def run(loops: int) -> None:
            for start in range(0, loops, 512):
                encode(spans[start : start + 512])

        return run

    sdk = measure(in_batches(lambda batch: sdk_encode_spans(batch).SerializePartialToString()))
    ours = measure(in_batches(encode_spans))
    return (sdk.micros, sdk.spread), (ours.micros, ours.spread)


def server_rows(sink: Sink, floor: float, loop: asyncio.AbstractEventLoop) -> list[Row]:
    from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

    untraced = on_loop(loop, request_through(transactions_app()))
    rows = []
    with provider(WireSpanExporter(endpoint=f"{sink.http}/v1/traces")) as tracers:
        traced_app = transactions_app()
        Telemetry(tracer_provider=tracers, meter_provider=meters(sink)).trace_requests(traced_app)
        ours = measure(flushed(tracers, on_loop(loop, request_through(traced_app))), untraced)
        rows.append(
            Row(
                "server",
                "request span + duration histogram (ours)",
                ours.micros,
                ours.spread,
                ours.micros / floor,
            )
        )
    with provider(OTLPSpanExporter(endpoint=f"{sink.http}/v1/traces")) as tracers:
        # What the app used before (Litestar's plugin around the OTel ASGI middleware), for comparison.
        plugin = OpenTelemetryPlugin(
            OpenTelemetryConfig(
                tracer_provider=tracers,
                meter_provider=meters(sink),
                exclude_spans=["receive", "send"],
                scope_span_details_extractor=lambda _: (
                    "POST /transactions",
                    {"http.route": "/transactions"},
                ),
            )
        )

        generic = measure(
            flushed(tracers, on_loop(loop, request_through(transactions_app(plugins=[plugin])))),
            untraced,
        )
        rows.append(
            Row(
                "server",
                "before: Litestar's plugin (OTel ASGI middleware), SDK exporter",
                generic.micros,
                generic.spread,
                generic.micros / floor,
            )
        )
    return rows


def redis_row(sink: Sink, floor: float, loop: asyncio.AbstractEventLoop, workdir: Path) -> Row:
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from redis.asyncio import Redis

    server = EmbeddedRedis(workdir / "redis")
    url = server.start()
    try:
        plain, traced = Redis.from_url(url), Redis.from_url(url)
        with provider(WireSpanExporter(endpoint=f"{sink.http}/v1/traces")) as tracers:
            RedisInstrumentor.instrument_client(traced, tracer_provider=tracers)
            key = "suppliers:session:" + uuid.uuid4().hex
            sample = measure(
                flushed(tracers, on_loop(loop, lambda: traced.get(key))),
                on_loop(loop, lambda: plain.get(key)),
            )
        loop.run_until_complete(plain.aclose())
        loop.run_until_complete(traced.aclose())
    finally:
        server.stop()
    return Row(
        "redis", "session lookup: Redis GET client span", sample.micros, sample.spread, sample.micros / floor
    )


def business_row(sink: Sink, floor: float) -> Row:
    """A withdrawal told on its request span (on_request_span): 8 attributes more to make and export."""
    with provider(WireSpanExporter(endpoint=f"{sink.http}/v1/traces")) as tracers:
        tracer = tracers.get_tracer("suppliers")

        def requests(loops: int, told: bool) -> None:
            for _ in range(loops):
                with tracer.start_as_current_span("POST /transactions", kind=SpanKind.SERVER):
                    if told:
                        with on_request_span(FIVE_ATTRIBUTES) as span:
                            span.set_attribute(OUTCOME, "success")
                            span.set_attribute(
                                "suppliers.transaction.id", "6f1c7c5e-3c1f-4a4e-9d7e-1f1b2b3c4d5e"
                            )
                            span.set_attribute("suppliers.product.stock", 7)

        sample = measure(
            flushed(tracers, lambda loops: requests(loops, told=True)),
            flushed(tracers, lambda loops: requests(loops, told=False)),
        )
    return Row(
        "business",
        "a withdrawal's 8 attributes on its request span",
        sample.micros,
        sample.spread,
        sample.micros / floor,
    )


def sql_row(sink: Sink, floor: float, loop: asyncio.AbstractEventLoop) -> Row:
    """The asyncpg instrumentation's wrapper around a statement that costs nothing: only the span."""
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    connection = SimpleNamespace(
        _params=SimpleNamespace(database="suppliers", user="suppliers"), _addr=("127.0.0.1", 5432)
    )
    arguments = (_WITHDRAWAL, uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), "withdrawal", 1, ["A>A"])

    async def statement(*_: Any, **__: Any) -> None:
        return None

    instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    with provider(WireSpanExporter(endpoint=f"{sink.http}/v1/traces"), QuerySummaries()) as tracers:
        instrumentor.instrument(tracer_provider=tracers)
        try:
            execute = instrumentor._do_execute
            traced = on_loop(loop, lambda: execute(statement, connection, arguments, {}))  # type: ignore[no-untyped-call]
            sample = measure(flushed(tracers, traced), on_loop(loop, lambda: statement(*arguments)))
        finally:
            instrumentor.uninstrument()
    return Row(
        "sql",
        "movement transactions: asyncpg statement span",
        sample.micros,
        sample.spread,
        sample.micros / floor,
    )


def metric_rows(sink: Sink) -> list[Row]:
    """The measurements one withdrawal makes: its duration, the session lookup, two business counters."""
    rows = []
    variants = (
        ("duration histogram with exemplar + 3 tallies (ours)", "trace_based", True),
        ("SDK counters for the 3, exemplars on every instrument (SDK default)", "trace_based", False),
        ("SDK counters for the 3, no exemplars", "always_off", False),
    )
    with provider(None) as tracers:
        tracer = tracers.get_tracer("bench")
        for label, exemplars, tallied in variants:
            meter = meters(sink, exemplars=exemplars).get_meter("suppliers")
            duration = meter.create_histogram("http.server.request.duration", unit="s")
            counters: list[Any] = (
                [Tally(meter, f"tally{n}", unit="1", description="") for n in range(3)]
                if tallied
                else [meter.create_counter(f"counter{n}") for n in range(3)]
            )
            cache, transactions, units = counters

            def one_request(
                loops: int,
                duration: Any = duration,
                cache: Any = cache,
                transactions: Any = transactions,
                units: Any = units,
            ) -> None:
                for _ in range(loops):
                    with tracer.start_as_current_span("request"):
                        duration.record(0.012, HTTP_ATTRIBUTES)
                        cache.add(1, {CACHE_RESULT: "hit"})
                        transactions.add(1, {ACTION: "withdrawal", OUTCOME: "success"})
                        units.add(1, {ACTION: "withdrawal"})

            def spans_alone(loops: int) -> None:
                for _ in range(loops):
                    with tracer.start_as_current_span("request"):
                        pass

            sample = measure(one_request, spans_alone)
            rows.append(Row("metrics", f"4 measurements: {label}", sample.micros, sample.spread, None))
    return rows


# The rows that are one of our span kinds as the app makes it (not a comparison row).
SPAN_KINDS = ("server", "redis", "sql")


def costliest_span_vs_floor(rows: list[Row]) -> float:
    return max(
        row.floor
        for row in rows
        if row.kind in SPAN_KINDS and row.floor is not None and "before" not in row.what
    )


def report(rows: list[Row]) -> str:
    """The protobuf backend and the table, as `make bench` puts them in results.md."""
    return f"protobuf backend: `{api_implementation.Type()}`\n\n{table(rows)}\n"


def table(rows: list[Row]) -> str:
    lines = [
        "| kind | what | µs CPU | spread (IQR) | ÷ floor |",
        "|---|---|---:|---:|---:|",
    ]
    for row in rows:
        ratio = f"{row.floor:.2f}" if row.floor is not None else ""
        lines.append(f"| {row.kind} | {row.what} | {row.micros:.1f} | {row.spread:.0%} | {ratio} |")
    return "\n".join(lines)


def run(out: Path | None = None) -> list[Row]:
    console = Console(stderr=True)
    backend = api_implementation.Type()
    console.print(
        f"[bold]bench.telemetry:[/] protobuf backend {backend}; {REPEATS} x {LOOPS} operations a row"
    )
    rows: list[Row] = []
    steps: list[tuple[str, Callable[[], list[Row]]]] = []
    with (
        ExitStack() as stack,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):
        sink = start_sink(stack)
        # One core for the measured process (its export thread included), the others for the sink
        # started just before: fewer migrations, steadier rounds.
        cores = sorted(os.sched_getaffinity(0))
        if len(cores) > 1:
            os.sched_setaffinity(0, {cores[-1]})
            stack.callback(os.sched_setaffinity, 0, cores)
        stack.callback(lambda: [meter.shutdown() for meter in _METERS])
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="suppliers-telemetry-")))
        loop = asyncio.new_event_loop()
        stack.callback(loop.close)
        floor = 0.0

        def the_floor() -> list[Row]:
            nonlocal floor
            found, floor = floor_rows(sink)
            return found

        steps = [
            ("the SDK's floor", the_floor),
            ("server span", lambda: server_rows(sink, floor, loop)),
            ("Redis span", lambda: [redis_row(sink, floor, loop, workdir)]),
            ("business attributes", lambda: [business_row(sink, floor)]),
            ("SQL span", lambda: [sql_row(sink, floor, loop)]),
            ("metrics", lambda: metric_rows(sink)),
        ]
        task = progress.add_task("telemetry", total=len(steps))
        for name, step in steps:
            progress.update(task, description=f"telemetry: {name}")
            rows.extend(step())
            progress.advance(task)
    text = report(rows)
    print(text)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "telemetry.md").write_text(text)
        (out / "telemetry.json").write_text(
            json.dumps({"protobuf": backend, "rows": [asdict(row) for row in rows]}, indent=2)
        )
    if backend != "upb":
        console.print(
            f"[red]bench.telemetry: protobuf backend is {backend}, not upb: exports cost ~10 times more[/]"
        )
    return rows


if __name__ == "__main__":
    run(report_dir())
    sys.exit(0)
