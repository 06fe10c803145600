"""Business operations on spans, where a refusal by the rules is an outcome and not a fault."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Span, StatusCode, Tracer
from opentelemetry.util.types import Attributes

from suppliers.errors import DomainError
from suppliers.telemetry.attributes import RULE


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
            note_refusal(span, error)
            raise
        except BaseException as error:
            span.record_exception(error)
            span.set_status(StatusCode.ERROR, f"{type(error).__name__}: {error}")
            raise


@contextmanager
def on_request_span(attributes: Attributes = None) -> Iterator[Span]:
    """One operation told on the span of the request that asked for it, not on a span of its own.

    For the hot path, a stock movement: a child span holding nothing but attributes would cost as
    much as its SQL statement's span again (`bench.telemetry`), and say nothing the request's span
    cannot. The request's span carries the attributes, and a refusal by the rules as its
    ``rule_violation`` event; a fault is recorded there by the app's exception handlers.
    """
    span = trace.get_current_span()
    if attributes:
        span.set_attributes(attributes)
    try:
        yield span
    except DomainError as error:
        note_refusal(span, error)
        raise


def note_refusal(span: Span, error: DomainError) -> None:
    span.add_event(
        "rule_violation",
        {
            RULE: type(error).__name__,
            "http.response.status_code": error.status,
            "message": error.detail,
        },
    )
