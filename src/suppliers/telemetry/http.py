"""Server spans and HTTP metrics for every request, named by route template rather than raw path."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.utils import normalize_path
from opentelemetry import baggage
from opentelemetry.semconv.attributes.http_attributes import HTTP_ROUTE
from opentelemetry.trace import Span

if TYPE_CHECKING:
    from litestar.types import Scope
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

# Probes, scrapes and the docs would drown the traces of real requests and say nothing.
UNTRACED_PATHS = ["^/health/", "^/metrics$", "^/schema", "^/docs$", "^/favicon.ico$"]

SYNTHETIC_BAGGAGE = "synthetic_request"
SYNTHETIC_ATTRIBUTE = "suppliers.synthetic_request"

_TYPED_PARAMETER = re.compile(r"\{(\w+):[^}]+\}")


def route_span_details(scope: Scope) -> tuple[str, dict[str, Any]]:
    """Span name and ``http.route`` from the route template: ``GET /products/{product_id}``.

    Litestar's default uses the raw path, which puts ids in span names and in the ``http.route``
    label of every HTTP metric. The middleware runs before routing and fixes metric attributes at
    request start, so the template is resolved here, through the router's own (cached) lookup.
    """
    method = str(scope.get("method", "")).strip()
    path = scope.get("path", "")
    if root_path := scope.get("root_path", ""):
        path = path.split(root_path, maxsplit=1)[-1]
    try:
        *_, template = scope["app"].asgi_router.handle_routing(path=normalize_path(path), method=method)
    except HTTPException:
        # No route (404) or wrong method (405): name the span by the method alone, as the conventions say.
        return method or "HTTP", {}
    route = plain_template(template)
    return f"{method} {route}", {HTTP_ROUTE: route}


def plain_template(template: str) -> str:
    """``/products/{product_id:uuid}`` → ``/products/{product_id}``, as ``http.route`` is written."""
    return _TYPED_PARAMETER.sub(r"{\1}", template)


def mark_synthetic(span: Span, _: dict[str, Any]) -> None:
    """Load generators send W3C baggage ``synthetic_request=true``: keep it on the server span so
    synthetic traffic can be told apart (or filtered out) in trace search.

    Only this one key is copied: arbitrary client baggage must not become span attributes.
    """
    if baggage.get_baggage(SYNTHETIC_BAGGAGE) == "true" and span.is_recording():
        span.set_attribute(SYNTHETIC_ATTRIBUTE, True)


def otel_plugin(tracer_provider: TracerProvider, meter_provider: MeterProvider) -> OpenTelemetryPlugin:
    return OpenTelemetryPlugin(
        OpenTelemetryConfig(
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            scope_span_details_extractor=route_span_details,
            server_request_hook_handler=mark_synthetic,
            # One span per ASGI message doubles the span count and tells nothing the server span does not.
            exclude_spans=["receive", "send"],
            exclude=UNTRACED_PATHS,
            scopes={ScopeType.HTTP},
        )
    )
