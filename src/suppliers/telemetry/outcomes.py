"""How an operation ended, told once: on its span and in its counter, from the refusal or the result.

Services keep their rules; this keeps their bookkeeping. A :class:`DomainError` leaving the block
is the outcome its class names (``insufficient_stock``, ``rate_limited``…); a block that finishes
is ``success`` unless it says otherwise (``told.outcome = "replayed"``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry.trace import Span
from opentelemetry.util.types import AttributeValue

from suppliers.errors import DomainError
from suppliers.telemetry.tallies import Tally


@dataclass
class Told:
    outcome: str = "success"


@contextmanager
def outcome_told(
    span: Span,
    key: str,
    tally: Tally,
    attributes: Mapping[str, AttributeValue] | None = None,
    *,
    on_refusal: Callable[[DomainError], None] | None = None,
) -> Iterator[Told]:
    """Set ``key`` on ``span`` and count one in ``tally`` (with ``attributes`` and ``key``).

    A fault (any other exception) is neither: the exception handler records it on the span."""
    told = Told()
    try:
        yield told
    except DomainError as error:
        if on_refusal is not None:
            on_refusal(error)
        _tell(span, key, tally, attributes, error.outcome)
        raise
    _tell(span, key, tally, attributes, told.outcome)


def _tell(
    span: Span, key: str, tally: Tally, attributes: Mapping[str, AttributeValue] | None, outcome: str
) -> None:
    span.set_attribute(key, outcome)
    tally.add(1, {**(attributes or {}), key: outcome})
