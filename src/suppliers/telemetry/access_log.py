"""One log line per request, written inside the request's span so it carries the trace id.

Uvicorn's own access log runs outside the span (and is turned off): this one is what lets a reader
go from a log line to its trace.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from litestar.config.app import AppConfig
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from suppliers.telemetry.http import plain_template

ACCESS_LOGGER = "suppliers.access"
_log = logging.getLogger(ACCESS_LOGGER)

# Which access lines also go over OTLP (to Loki): the server span of every request already holds
# method, route, status and duration, so only the lines worth reading on their own are exported:
# refusals and failures, and requests slower than the latency objective. The console has them all.
EXPORT_FROM_STATUS = 400
EXPORT_FROM_MS = 500.0


class ExportedAccessLines(logging.Filter):
    """On the OTLP log handler: lets every record through but unremarkable access lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != ACCESS_LOGGER:
            return True
        status = getattr(record, "http.response.status_code", 0)
        elapsed = getattr(record, "suppliers.duration_ms", 0.0)
        return bool(status >= EXPORT_FROM_STATUS or elapsed >= EXPORT_FROM_MS)


def _is_probe(scope: Scope) -> bool:
    # A probe or scrape every few seconds is noise, not a request anyone follows.
    path: str = scope["path"]
    return path.startswith("/health/") or path == "/metrics"


class AccessLogMiddleware(ASGIMiddleware):
    """``status_of``: the status the app answers an exception with (what its exception handlers do).

    It runs outside authentication, whose refusals travel out as exceptions and become responses
    only further out: the line must name the status the client got, not a guess.
    """

    should_bypass_for_scope = staticmethod(_is_probe)

    def __init__(self, status_of: Callable[[Exception], int]) -> None:
        self._status_of = status_of

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if not _log.isEnabledFor(logging.INFO):
            await next_app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await next_app(scope, receive, send_and_note_status)
        except Exception as error:
            status = self._status_of(error)
            raise
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            template = scope.get("path_template")
            _log.info(
                "%s %s %d %.1f ms",
                scope.get("method"),
                scope["path"],
                status,
                elapsed_ms,
                extra={
                    "http.request.method": scope.get("method"),
                    "http.route": plain_template(template) if template else None,
                    "url.path": scope["path"],
                    "http.response.status_code": status,
                    "suppliers.duration_ms": round(elapsed_ms, 2),
                },
            )


def log_every_request(status_of: Callable[[Exception], int]) -> Callable[[AppConfig], AppConfig]:
    """An on_app_init hook that puts the access log first among the app's middleware."""

    def put_first(app_config: AppConfig) -> AppConfig:
        app_config.middleware.insert(0, AccessLogMiddleware(status_of))
        return app_config

    return put_first
