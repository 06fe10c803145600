"""Application logs: readable on the console with the trace they belong to, and exported over OTLP.

Everything the service logs goes through the ``suppliers`` logger tree. Only that tree is exported,
so the exporters' own complaints (``opentelemetry.*``) can never loop back into the export pipeline.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import time
from pathlib import Path

from opentelemetry import trace

APP_LOGGER = "suppliers"
SDK_LOGGER = "opentelemetry"


class TraceContextFormatter(logging.Formatter):
    """``12:00:01.234 INFO suppliers.access GET /products 200 3.1 ms  trace_id=… span_id=…``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s  %(message)s", "%H:%M:%S")

    def formatMessage(self, record: logging.LogRecord) -> str:
        # The ids go on the first line, before any traceback. Formatting runs in the thread and
        # context that logged, so the current span is the record's own.
        line = super().formatMessage(record)
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            line += f"  trace_id={context.trace_id:032x} span_id={context.span_id:016x}"
        return line


class CollectorUnreachable(logging.Filter):
    """The exporters' complaints that no collector answers, said as one line with the fix.

    With nothing listening on the OTLP endpoint (``make run`` without the compose stack), each
    signal's exporter warns of a "Transient error HTTPConnectionPool(...)" on every retry and then of
    a failed export. This says what it means and what to do, once a minute per endpoint (every
    signal usually shares one), and swallows the rest. Workers of one `suppliers serve` share
    ``shared_dir``: the first to say it leaves a mark there, and the others stay quiet for the minute.
    """

    def __init__(self, interval_seconds: float = 60.0, *, shared_dir: Path | None = None) -> None:
        super().__init__()
        self.interval_seconds = interval_seconds
        self.shared_dir = shared_dir
        self._said: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(_EXPORTER_LOGGERS) or not isinstance(record.msg, str):
            return True
        if record.msg.startswith("Failed to export %s batch due to timeout"):
            # What follows the retries below: already explained if they were about reachability.
            return not self._said_lately()
        if not (record.msg.startswith("Transient error") and _is_unreachable(record)):
            return True
        endpoint = _endpoint_in(record.getMessage())
        now = time.monotonic()
        if now - self._said.get(endpoint, -self.interval_seconds) < self.interval_seconds:
            return False
        self._said[endpoint] = now
        if not self._first_worker_to_say(endpoint):
            return False
        record.msg = (
            f"telemetry is not being exported: no OpenTelemetry collector answers at {endpoint}. "
            "Start the stack (cd compose && docker compose up), point OTEL_EXPORTER_OTLP_ENDPOINT at a "
            "collector, or set OTEL_SDK_DISABLED=true (said at most once a minute)"
        )
        record.args = None
        record.collector_unreachable = True
        return True

    def _first_worker_to_say(self, endpoint: str) -> bool:
        if self.shared_dir is None:
            return True
        mark = self.shared_dir / ("collector-unreachable-" + re.sub(r"[^\w.-]", "_", endpoint))
        try:
            said_at = mark.stat().st_mtime
        except FileNotFoundError:
            said_at = None
        if said_at is not None and time.time() - said_at < self.interval_seconds:
            return False
        with contextlib.suppress(OSError):  # nowhere to leave the mark: say it anyway
            self.shared_dir.mkdir(parents=True, exist_ok=True)
            mark.touch()
        return True

    def _said_lately(self) -> bool:
        now = time.monotonic()
        return any(now - said < 2 * self.interval_seconds for said in self._said.values())


_EXPORTER_LOGGERS = "opentelemetry.exporter."
_UNREACHABLE = ("Connection refused", "Failed to establish", "Name or service not known", "UNAVAILABLE")
_HTTP_POOL = re.compile(r"HTTPS?ConnectionPool\(host='(?P<host>[^']+)', port=(?P<port>\d+)\)")
_GRPC_TARGET = re.compile(r"exporting \w+ to (?P<target>\S+?),")


def _is_unreachable(record: logging.LogRecord) -> bool:
    return any(sign in record.getMessage() for sign in _UNREACHABLE)


def _endpoint_in(message: str) -> str:
    if found := _HTTP_POOL.search(message):
        return f"{found['host']}:{found['port']}"
    if found := _GRPC_TARGET.search(message):
        return found["target"]
    return "the configured OTLP endpoint"


class QuietRepeats(logging.Filter):
    """Lets one record per logger through per interval, then says how many it held back.

    An SDK complaint repeated on every batch (a full queue, a collector that refuses data) says the
    same thing each time: one line a minute leaves the console readable.
    """

    def __init__(self, interval_seconds: float = 60.0) -> None:
        super().__init__()
        self.interval_seconds = interval_seconds
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "collector_unreachable", False):
            return True  # throttled by CollectorUnreachable already
        now = time.monotonic()
        last = self._last.get(record.name)
        if last is not None and now - last < self.interval_seconds:
            self._held[record.name] = self._held.get(record.name, 0) + 1
            return False
        self._last[record.name] = now
        if held := self._held.pop(record.name, 0):
            record.msg = f"{record.msg} ({held} similar messages in the last minutes not shown)"
        return True


def configure_console(level: str, *, shared_dir: Path | None = None) -> None:
    """Send our logs to stderr with trace ids, and the SDK's, throttled. Safe to call again.

    ``shared_dir``: where the workers of one server agree who says that no collector answers.
    """
    app = logging.getLogger(APP_LOGGER)
    app.setLevel(level.upper())
    sdk = logging.getLogger(SDK_LOGGER)
    sdk.setLevel(logging.WARNING)
    for logger, quiet in ((app, False), (sdk, True)):
        if not any(isinstance(h.formatter, TraceContextFormatter) for h in logger.handlers):
            console = logging.StreamHandler(sys.stderr)
            console.setFormatter(TraceContextFormatter())
            if quiet:
                console.addFilter(CollectorUnreachable(shared_dir=shared_dir))
                console.addFilter(QuietRepeats())
            logger.addHandler(console)
        # These handlers print the records; a root handler (basicConfig) would print them twice.
        logger.propagate = False


def attach_handler(handler: logging.Handler) -> None:
    logging.getLogger(APP_LOGGER).addHandler(handler)


def detach_handler(handler: logging.Handler) -> None:
    logging.getLogger(APP_LOGGER).removeHandler(handler)
