"""The server span and the HTTP metrics of every request, named by route template rather than raw path.

Our own ASGI middleware, not the generic OpenTelemetry ASGI one (which Litestar's plugin wraps): that
one is written for every framework and every convention mode, and pays for it on each request —
header normalisation, both old and new attribute sets checked, per-message spans switched off after
being considered, five metric measurements (two body sizes nobody reads, active requests ±1, the
duration). This one makes exactly what the stable HTTP conventions ask of a server and what this
stack reads: one span, one duration measurement, and the active requests counted in plain Python and
read at collection time. `bench.telemetry` measures both.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable
from timeit import default_timer
from typing import TYPE_CHECKING, Any

from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.utils import normalize_path
from opentelemetry import baggage, context, propagate, trace
from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.semconv.attributes.client_attributes import CLIENT_ADDRESS
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import (
    HTTP_REQUEST_METHOD,
    HTTP_RESPONSE_STATUS_CODE,
    HTTP_ROUTE,
)
from opentelemetry.semconv.attributes.network_attributes import NETWORK_PROTOCOL_VERSION
from opentelemetry.semconv.attributes.url_attributes import URL_PATH, URL_QUERY, URL_SCHEME
from opentelemetry.semconv.attributes.user_agent_attributes import USER_AGENT_ORIGINAL
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

# Probes, scrapes and the docs would drown the traces of real requests and say nothing.
UNTRACED_PREFIXES = ("/health/", "/schema", "/docs")
UNTRACED_PATHS = frozenset({"/metrics", "/favicon.ico"})

SYNTHETIC_BAGGAGE = "synthetic_request"
SYNTHETIC_ATTRIBUTE = "suppliers.synthetic_request"

# The conventions' known methods; anything else is "_OTHER", so a client inventing methods cannot
# mint new span names or metric series.
KNOWN_METHODS = frozenset({"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"})
OTHER_METHOD = "_OTHER"

# What a client writes (path, query, user agent) is kept on the span up to this many characters: a
# request line of kilobytes must not become kilobytes in every span, export and trace store.
CLIENT_TEXT_LIMIT = 1024

# Only the headers the propagators read are copied out of the request for them.
_PROPAGATION_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})
_TYPED_PARAMETER = re.compile(r"\{(\w+):[^}]+\}")

_UNSET = Status(StatusCode.UNSET)

# Buckets of http.server.request.duration, as the HTTP conventions advise (seconds).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


def is_traced(path: str) -> bool:
    return path not in UNTRACED_PATHS and not path.startswith(UNTRACED_PREFIXES)


@functools.cache  # the app's routes: a small fixed set, and a regex per request adds up
def plain_template(template: str) -> str:
    """``/products/{product_id:uuid}`` → ``/products/{product_id}``, as ``http.route`` is written."""
    return _TYPED_PARAMETER.sub(r"{\1}", template)


def route_of(scope: Scope, method: str) -> str | None:
    """The route template that will serve this request, or None for a 404/405.

    The middleware runs before routing and fixes the span name and metric attributes at request
    start, so the template is resolved here, through the router's own (cached) lookup.
    """
    path = scope["path"]
    if root_path := scope.get("root_path", ""):
        path = path.split(root_path, maxsplit=1)[-1]
    try:
        *_, template = scope["app"].asgi_router.handle_routing(path=normalize_path(path), method=method)
    except HTTPException:
        return None
    return plain_template(template)


class ServerSpans:
    """ASGI middleware: a SERVER span around each traced request, and its duration recorded in it.

    The span continues the caller's W3C trace context, is named ``METHOD /route/{template}``, ends
    with ``http.response.status_code`` (status ERROR for a 5xx or an escaping exception), and the
    response carries ``traceresponse: 00-<trace id>-<span id>-<flags>`` so a client can find it.
    The duration is recorded while the span is current: its histogram bucket keeps the trace as an
    exemplar.
    """

    def __init__(self, app: ASGIApp, *, tracer: Tracer, meter: Meter) -> None:
        self.app = app
        self._tracer = tracer
        self._duration = meter.create_histogram(
            "http.server.request.duration",
            unit="s",
            description="Duration of HTTP server requests.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._active: Counter[tuple[str, str]] = Counter()
        meter.create_observable_up_down_counter(
            "http.server.active_requests",
            callbacks=[self._observe_active],
            unit="{request}",
            description="Number of active HTTP server requests.",
        )

    def _observe_active(self, _: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(count, {HTTP_REQUEST_METHOD: method, URL_SCHEME: scheme})
            for (method, scheme), count in list(self._active.items())
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not is_traced(scope["path"]):
            await self.app(scope, receive, send)
            return
        carrier: dict[str, str] = {}
        user_agent = None
        for header, value in scope["headers"]:
            if header in _PROPAGATION_HEADERS:
                carrier[header.decode()] = value.decode("latin-1")
            elif header == b"user-agent":
                user_agent = value[:CLIENT_TEXT_LIMIT].decode("latin-1")
        parent = propagate.extract(carrier) if carrier else context.Context()

        raw_method = scope["method"]
        method = raw_method if raw_method in KNOWN_METHODS else OTHER_METHOD
        route = route_of(scope, raw_method)
        scheme = scope.get("scheme", "http")
        version = scope.get("http_version", "1.1")
        attributes: dict[str, Any] = {
            HTTP_REQUEST_METHOD: method,
            URL_PATH: scope["path"][:CLIENT_TEXT_LIMIT],
            URL_SCHEME: scheme,
            NETWORK_PROTOCOL_VERSION: version,
        }
        if route is not None:
            attributes[HTTP_ROUTE] = route
        if query := scope.get("query_string"):
            attributes[URL_QUERY] = query[:CLIENT_TEXT_LIMIT].decode("latin-1")
        if client := scope.get("client"):
            attributes[CLIENT_ADDRESS] = client[0]
        if user_agent is not None:
            attributes[USER_AGENT_ORIGINAL] = user_agent
        if baggage.get_baggage(SYNTHETIC_BAGGAGE, parent) == "true":
            # Load generators say so in W3C baggage; only this one key becomes an attribute.
            attributes[SYNTHETIC_ATTRIBUTE] = True
        name = "HTTP" if method == OTHER_METHOD else method
        span = self._tracer.start_span(
            f"{name} {route}" if route else name, parent, SpanKind.SERVER, attributes
        )
        token = context.attach(trace.set_span_in_context(span, parent))
        active = (method, scheme)
        self._active[active] += 1
        status = 0

        async def send_with_trace_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                span_context = span.get_span_context()
                message["headers"] = [
                    *message.get("headers", ()),
                    (
                        b"traceresponse",
                        b"00-%032x-%016x-%02x"
                        % (span_context.trace_id, span_context.span_id, span_context.trace_flags),
                    ),
                    (b"access-control-expose-headers", b"traceresponse"),
                ]
            await send(message)

        started = default_timer()
        error_type = None
        try:
            await self.app(scope, receive, send_with_trace_id)
        except BaseException as error:
            error_type = type(error).__qualname__
            span.record_exception(error)
            span.set_status(StatusCode.ERROR, f"{error_type}: {error}")
            raise
        finally:
            metric: dict[str, str | int] = {
                HTTP_REQUEST_METHOD: method,
                URL_SCHEME: scheme,
                NETWORK_PROTOCOL_VERSION: version,
            }
            if route is not None:
                metric[HTTP_ROUTE] = route
            if status:
                metric[HTTP_RESPONSE_STATUS_CODE] = status
                span.set_attribute(HTTP_RESPONSE_STATUS_CODE, status)
            if status >= 500 and error_type is None:
                error_type = str(status)
                # An exception handler may have set it already, with the reason: keep that.
                if getattr(span, "status", _UNSET).status_code is StatusCode.UNSET:
                    span.set_status(StatusCode.ERROR)
            if error_type is not None:
                metric[ERROR_TYPE] = error_type
                span.set_attribute(ERROR_TYPE, error_type)
            self._duration.record(default_timer() - started, metric)
            self._active[active] -= 1
            span.end()
            context.detach(token)
