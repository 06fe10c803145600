"""Builds the OpenTelemetry providers of one app, instruments its clients, and shuts it all down.

Providers are held here and passed to whoever needs them, never installed as the process-wide
globals: the globals can be set only once per process, and the tests build many apps.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from opentelemetry.metrics import MeterProvider, NoOpMeterProvider
from opentelemetry.trace import NoOpTracerProvider, Tracer, TracerProvider

from suppliers import __version__
from suppliers.settings import Settings
from suppliers.telemetry import logs
from suppliers.telemetry.access_log import ExportedAccessLines
from suppliers.telemetry.instruments import Instruments
from suppliers.telemetry.pool_metrics import observe_pool

if TYPE_CHECKING:
    from litestar import Litestar
    from opentelemetry.sdk._logs import LoggerProvider
    from prometheus_client import CollectorRegistry
    from redis.asyncio import Redis
    from sqlalchemy.ext.asyncio import AsyncEngine

    from suppliers.telemetry.worker_metrics import WorkerMetrics

# Stable HTTP and database conventions (http.server.request.duration in seconds, http.route;
# db.system.name, db.namespace, db.query.text). Not "/dup": the old names too would double the
# attributes of every SQL span, and encoding spans is the largest part of the telemetry cost.
# The instrumentations read this once, from the environment, when the first one is created.
SEMCONV_OPT_IN = "http,database"

# What stopping may spend on flushing what is queued: plenty for a collector that answers (a
# flush takes milliseconds), and a bound on one that does not, so Ctrl-C stops within 2 s.
SHUTDOWN_TIMEOUT_SECONDS = 1.0

# Process metrics only: the host's own CPU, memory, disk and network come from the collector.
PROCESS_METRICS: dict[str, list[str] | None] = {
    "process.cpu.time": ["user", "system"],
    "process.cpu.utilization": ["user", "system"],
    "process.memory.usage": None,
    "process.memory.virtual": None,
    "process.thread.count": None,
    "process.open_file_descriptor.count": None,
    "process.context_switches": ["involuntary", "voluntary"],
}


class Telemetry:
    """The providers of one app and the instrumentation installed with them."""

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider,
        meter_provider: MeterProvider,
        logger_provider: LoggerProvider | None = None,
        prometheus_registry: CollectorRegistry | None = None,
        worker_metrics: WorkerMetrics | None = None,
        enabled: bool = True,
    ) -> None:
        self.enabled = enabled
        if enabled:
            # Must be in the environment before the first instrumentation is created (it is read once).
            os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", SEMCONV_OPT_IN)
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self.logger_provider = logger_provider
        self.prometheus_registry = prometheus_registry
        self.worker_metrics = worker_metrics
        self.meter = meter_provider.get_meter("suppliers", __version__)
        self.instruments = Instruments(self.meter)
        self._log_handler: logging.Handler | None = None
        self._instrumented_asyncpg = False
        self._instrumented_process = False

    @classmethod
    def disabled(cls) -> Telemetry:
        """No spans, no metrics, no instrumentation: nothing on the request path."""
        return cls(tracer_provider=NoOpTracerProvider(), meter_provider=NoOpMeterProvider(), enabled=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Telemetry:
        if settings.otel_sdk_disabled:
            return cls.disabled()

        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
        from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
        from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
        from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from prometheus_client import CollectorRegistry

        from suppliers.telemetry.exporters import log_exporters, metric_exporters, span_exporters
        from suppliers.telemetry.resource import build_resource

        instance_id = str(uuid.uuid4())
        resource = build_resource(settings, instance_id=instance_id)
        readers: list[MetricReader] = [
            PeriodicExportingMetricReader(exporter) for exporter in metric_exporters(settings)
        ]
        # /metrics from this process's registry; with several workers, from every worker's (they
        # meet in settings.metrics_dir: see worker_metrics.py). A worker started some other way,
        # with nowhere to meet, has no /metrics: OTLP (each worker its own service.instance.id) is
        # then the metrics path, and a scrape would read one worker's counters as the service's.
        meeting = settings.metrics_dir if settings.processes > 1 else None
        registry = CollectorRegistry(auto_describe=True) if settings.processes == 1 or meeting else None
        if registry is not None:
            readers.append(PrometheusMetricReader(registry=registry))
        meter_provider = SdkMeterProvider(resource=resource, metric_readers=readers)
        # Batch processors export from their own thread with bounded queues (OTEL_BSP_*, OTEL_BLRP_*):
        # a slow or absent collector makes them drop telemetry; it never blocks a request or grows memory.
        # What they drop and what fails to export is counted in the SDK's own metrics
        # (otel_sdk_processor_span_processed_total{error_type="queue_full"},
        # otel_sdk_exporter_span_exported_total{error_type=…}) once OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED
        # is true; off, they cost nothing.
        tracer_provider = SdkTracerProvider(resource=resource, meter_provider=meter_provider)
        for span_exporter in span_exporters(settings, meter_provider):
            tracer_provider.add_span_processor(
                BatchSpanProcessor(span_exporter, meter_provider=meter_provider)
            )
        logger_provider = LoggerProvider(resource=resource)
        for log_exporter in log_exporters(settings):
            logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
        workers = None
        if meeting is not None and registry is not None:
            from suppliers.telemetry.worker_metrics import WorkerMetrics

            workers = WorkerMetrics(registry, meeting, instance_id)
            workers.start()
        return cls(
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            logger_provider=logger_provider,
            prometheus_registry=registry,
            worker_metrics=workers,
        )

    def tracer(self, name: str) -> Tracer:
        return self.tracer_provider.get_tracer(name, __version__)

    def instrument(self, *, engine: AsyncEngine, redis: Redis | None, max_overflow: int) -> None:
        """Trace the app's SQL and Redis calls, and observe its pool, process and logs."""
        if not self.enabled:
            return
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
        from opentelemetry.instrumentation.redis import RedisInstrumentor
        from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor

        # asyncpg can only be patched process-wide; SQLAlchemy's own instrumentation is not used,
        # so every statement gets exactly one span.
        if callable(add_processor := getattr(self.tracer_provider, "add_span_processor", None)):
            from suppliers.telemetry.query_summary import QuerySummaries

            add_processor(QuerySummaries())
        asyncpg = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
        if not asyncpg.is_instrumented_by_opentelemetry:
            asyncpg.instrument(tracer_provider=self.tracer_provider)
            self._instrumented_asyncpg = True
        if redis is not None:
            RedisInstrumentor.instrument_client(redis, tracer_provider=self.tracer_provider)
        observe_pool(self.meter, engine, max_overflow=max_overflow)
        process = SystemMetricsInstrumentor(config=PROCESS_METRICS)
        if not process.is_instrumented_by_opentelemetry:
            process.instrument(meter_provider=self.meter_provider)
            self._instrumented_process = True
        if self.logger_provider is not None:
            from opentelemetry.instrumentation.logging.handler import LoggingHandler

            self._log_handler = LoggingHandler(logger_provider=self.logger_provider)
            self._log_handler.addFilter(ExportedAccessLines())
            logs.attach_handler(self._log_handler)

    def trace_requests(self, app: Litestar) -> None:
        """Put the server span around everything the app does, its exception handlers included."""
        if not self.enabled:
            return
        from suppliers.telemetry.http import ServerSpans

        app.asgi_handler = ServerSpans(
            app.asgi_handler, tracer=self.tracer("suppliers.http"), meter=self.meter
        )

    def route_handlers(self, *, processes: int) -> list[Any]:
        if not self.enabled:
            return []
        from prometheus_client import generate_latest

        from suppliers.telemetry.prometheus import metrics_elsewhere, metrics_route

        if self.worker_metrics is not None:
            return [metrics_route(self.worker_metrics.scrape, workers=processes)]
        if (registry := self.prometheus_registry) is not None:
            return [metrics_route(lambda: generate_latest(registry), workers=1)]
        return [metrics_elsewhere(processes)]

    def shutdown(self, timeout_seconds: float = SHUTDOWN_TIMEOUT_SECONDS) -> None:
        """Undo the process-wide patches and flush what is still queued, within ``timeout_seconds``."""
        if self.worker_metrics is not None:
            self.worker_metrics.stop()
            self.worker_metrics = None
        if self._log_handler is not None:
            logs.detach_handler(self._log_handler)
            self._log_handler = None
        if self._instrumented_asyncpg:
            from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

            AsyncPGInstrumentor().uninstrument()  # type: ignore[no-untyped-call]
            self._instrumented_asyncpg = False
        if self._instrumented_process:
            from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor

            SystemMetricsInstrumentor().uninstrument()
            self._instrumented_process = False
        # Each provider exports what it still holds. With a collector that hangs, that could take the
        # exporters' full timeouts one after the other; in parallel, and bounded, stopping stays quick.
        stoppers = [
            threading.Thread(target=shutdown, name="telemetry-shutdown", daemon=True)
            for provider in (self.tracer_provider, self.meter_provider, self.logger_provider)
            if callable(shutdown := getattr(provider, "shutdown", None))
        ]
        for stopper in stoppers:
            stopper.start()
        deadline = time.monotonic() + timeout_seconds
        for stopper in stoppers:
            stopper.join(max(0.0, deadline - time.monotonic()))
