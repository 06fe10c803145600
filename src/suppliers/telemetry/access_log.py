"""One log line per request, written inside the request's span so it carries the trace id.

Uvicorn's own access log runs outside the span (and is turned off): this one is what lets a reader
go from a log line to its trace.
"""

from __future__ import annotations

import logging
import time

from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from suppliers.telemetry.http import plain_template

_log = logging.getLogger("suppliers.access")


def _is_probe(scope: Scope) -> bool:
    # A probe or scrape every few seconds is noise, not a request anyone follows.
    path: str = scope["path"]
    return path.startswith("/health/") or path == "/metrics"


class AccessLogMiddleware(ASGIMiddleware):
    should_bypass_for_scope = staticmethod(_is_probe)

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
