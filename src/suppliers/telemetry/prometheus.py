"""``GET /metrics``: the meter provider's metrics in Prometheus text, from this app's own registry."""

from __future__ import annotations

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


def metrics_route(registry: CollectorRegistry) -> HTTPRouteHandler:
    # Collection runs every observable callback and walks every series: keep it off the event loop.
    @get(
        "/metrics",
        sync_to_thread=True,
        media_type=CONTENT_TYPE_LATEST,
        tags=["telemetry"],
        summary="Prometheus scrape endpoint",
        description=(
            "The OpenTelemetry meter provider's metrics in Prometheus text format, for a Prometheus that "
            "scrapes the API directly. Exemplars travel over OTLP only. Absent when OTEL_SDK_DISABLED=true."
        ),
    )
    def metrics() -> Response[bytes]:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return metrics


def metrics_elsewhere(processes: int) -> HTTPRouteHandler:
    """``GET /metrics`` when several worker processes serve: a 404 that says where metrics are."""

    @get("/metrics", include_in_schema=False, sync_to_thread=False)
    def metrics() -> None:
        raise NotFoundException(
            f"this API runs {processes} worker processes, each with its own counters: metrics are "
            "exported over OTLP only (OTEL_EXPORTER_OTLP_ENDPOINT); "
            "set SUPPLIERS_WORKERS=1 to scrape /metrics"
        )

    return metrics
