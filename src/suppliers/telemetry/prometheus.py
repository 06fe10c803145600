"""``GET /metrics``: the meter provider's metrics in Prometheus text (every worker's, with several)."""

from __future__ import annotations

from collections.abc import Callable

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from prometheus_client import CONTENT_TYPE_LATEST


def metrics_route(exposition: Callable[[], bytes], *, workers: int) -> HTTPRouteHandler:
    """``exposition``: this process's registry in text, or every worker's (worker_metrics.py)."""
    across = (
        f" With {workers} worker processes, every worker's series, each labelled with its "
        "service_instance_id: sum them for the service."
        if workers > 1
        else ""
    )

    # Collection runs every observable callback and walks every series: keep it off the event loop.
    @get(
        "/metrics",
        sync_to_thread=True,
        media_type=CONTENT_TYPE_LATEST,
        tags=["telemetry"],
        summary="Prometheus scrape endpoint",
        description=(
            "The OpenTelemetry meter provider's metrics in Prometheus text format, for a Prometheus that "
            f"scrapes the API directly.{across} Exemplars travel over OTLP only. Absent when "
            "OTEL_SDK_DISABLED=true."
        ),
    )
    def metrics() -> Response[bytes]:
        return Response(exposition(), media_type=CONTENT_TYPE_LATEST)

    return metrics


def metrics_elsewhere(processes: int) -> HTTPRouteHandler:
    """``GET /metrics`` for workers with nowhere to meet (not started by ``suppliers serve``)."""

    @get("/metrics", include_in_schema=False, sync_to_thread=False)
    def metrics() -> None:
        raise NotFoundException(
            f"this API runs {processes} worker processes, each with its own counters, and no "
            "SUPPLIERS_METRICS_DIR for them to answer a scrape together: metrics are exported over "
            "OTLP only (OTEL_EXPORTER_OTLP_ENDPOINT). Start it with `suppliers serve` to scrape /metrics"
        )

    return metrics
