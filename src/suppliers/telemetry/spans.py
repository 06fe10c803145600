"""Spans around business operations, where a refusal by the rules is an outcome and not a fault."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.trace import Span, StatusCode, Tracer
from opentelemetry.util.types import Attributes

from suppliers.errors import DomainError


@contextmanager
def business_span(tracer: Tracer, name: str, attributes: Attributes = None) -> Iterator[Span]:
    """A current span for one operation.

    A :class:`DomainError` (insufficient stock, wrong vendor, bad password...) is the operation
    working as designed: it becomes a ``rule_violation`` event and the status stays unset, as the
    HTTP conventions do for 4xx. Anything else is a fault: recorded, status ERROR.
    """
    with tracer.start_as_current_span(
        name, attributes=attributes, record_exception=False, set_status_on_exception=False
    ) as span:
        try:
            yield span
        except DomainError as error:
            span.add_event(
                "rule_violation",
                {
                    "suppliers.rule": type(error).__name__,
                    "http.response.status_code": error.status,
                    "message": error.detail,
                },
            )
            raise
        except BaseException as error:
            span.record_exception(error)
            span.set_status(StatusCode.ERROR, f"{type(error).__name__}: {error}")
            raise
