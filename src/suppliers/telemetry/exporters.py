"""The exporters each signal sends to, chosen by the standard OTEL_*_EXPORTER and protocol variables.

Endpoints, headers, timeouts and compression are left to the exporters, which read their own
standard variables (OTEL_EXPORTER_OTLP_ENDPOINT and friends); only the choice of class is ours.
"""

from __future__ import annotations

from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter, LogRecordExporter
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, MetricExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter

from suppliers.settings import Settings


def span_exporters(settings: Settings, meter_provider: MeterProvider | None = None) -> list[SpanExporter]:
    """``meter_provider`` receives the exporters' own metrics (when the SDK's are enabled)."""
    exporters: list[SpanExporter] = []
    for name in settings.otel_traces_exporter:
        if name == "console":
            exporters.append(ConsoleSpanExporter())
        elif name == "otlp" and settings.otlp_protocol("traces") == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans

            exporters.append(GrpcSpans(meter_provider=meter_provider))
        elif name == "otlp":
            # The SDK's OTLP/HTTP exporter with a cheaper encoder (same bytes on the wire).
            from suppliers.telemetry.otlp_spans import WireSpanExporter

            exporters.append(WireSpanExporter(meter_provider=meter_provider))
    return exporters


def metric_exporters(settings: Settings) -> list[MetricExporter]:
    exporters: list[MetricExporter] = []
    for name in settings.otel_metrics_exporter:
        if name == "console":
            exporters.append(ConsoleMetricExporter())
        elif name == "otlp" and settings.otlp_protocol("metrics") == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
                OTLPMetricExporter as GrpcMetrics,
            )

            exporters.append(GrpcMetrics())
        elif name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter as HttpMetrics,
            )

            exporters.append(HttpMetrics())
    return exporters


def log_exporters(settings: Settings) -> list[LogRecordExporter]:
    exporters: list[LogRecordExporter] = []
    for name in settings.otel_logs_exporter:
        if name == "console":
            exporters.append(ConsoleLogRecordExporter())
        elif name == "otlp" and settings.otlp_protocol("logs") == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs

            exporters.append(GrpcLogs())
        elif name == "otlp":
            from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs

            exporters.append(HttpLogs())
    return exporters
