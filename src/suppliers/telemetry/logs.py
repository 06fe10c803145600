"""Application logs: readable on the console with the trace they belong to, and exported over OTLP.

Everything the service logs goes through the ``suppliers`` logger tree. Only that tree is exported,
so the exporters' own complaints (``opentelemetry.*``) can never loop back into the export pipeline.
"""

from __future__ import annotations

import logging
import sys
import time

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


class QuietRepeats(logging.Filter):
    """Lets one record per logger through per interval, then says how many it held back.

    With no collector listening, every exporter retries and warns several times a minute; one line
    a minute says the same and leaves the console readable.
    """

    def __init__(self, interval_seconds: float = 60.0) -> None:
        super().__init__()
        self.interval_seconds = interval_seconds
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        last = self._last.get(record.name)
        if last is not None and now - last < self.interval_seconds:
            self._held[record.name] = self._held.get(record.name, 0) + 1
            return False
        self._last[record.name] = now
        if held := self._held.pop(record.name, 0):
            record.msg = f"{record.msg} ({held} similar messages in the last minutes not shown)"
        return True


def configure_console(level: str) -> None:
    """Send our logs to stderr with trace ids, and the SDK's, throttled. Safe to call again."""
    app = logging.getLogger(APP_LOGGER)
    app.setLevel(level.upper())
    sdk = logging.getLogger(SDK_LOGGER)
    sdk.setLevel(logging.WARNING)
    for logger, quiet in ((app, False), (sdk, True)):
        if not any(isinstance(h.formatter, TraceContextFormatter) for h in logger.handlers):
            console = logging.StreamHandler(sys.stderr)
            console.setFormatter(TraceContextFormatter())
            if quiet:
                console.addFilter(QuietRepeats())
            logger.addHandler(console)
        # These handlers print the records; a root handler (basicConfig) would print them twice.
        logger.propagate = False


def attach_handler(handler: logging.Handler) -> None:
    logging.getLogger(APP_LOGGER).addHandler(handler)


def detach_handler(handler: logging.Handler) -> None:
    logging.getLogger(APP_LOGGER).removeHandler(handler)
