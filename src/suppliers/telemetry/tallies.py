"""Counters kept in plain Python and handed to the SDK when it collects.

An SDK counter does its aggregation on every ``add``: it matches the instrument's views, freezes the
attributes into a key, asks the exemplar filter about the current span, and repeats all of it for
each metric reader (OTLP and /metrics). For a business counter with a handful of attribute sets,
counted on every request, that is most of what a request's metrics cost (`bench.telemetry`).
A tally adds to a dict under a lock and reports its totals through an observable counter, read at
collection time: the same cumulative, monotonic sums leave the process, for a fraction of the CPU.

Only for attributes drawn from small closed sets (outcomes, actions, triggers): each distinct set
is kept for the life of the process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.util.types import AttributeValue

_Key = tuple[tuple[str, AttributeValue], ...]


class Tally:
    """``add(amount, attributes)`` as on a counter; reported as an ``ObservableCounter``."""

    def __init__(self, meter: Meter, name: str, *, unit: str, description: str) -> None:
        self._totals: dict[_Key, int] = {}
        self._lock = threading.Lock()
        meter.create_observable_counter(name, callbacks=[self._observe], unit=unit, description=description)

    def add(self, amount: int, attributes: Mapping[str, AttributeValue]) -> None:
        if amount < 0:
            raise ValueError(f"a tally only grows; got {amount}")
        key = tuple(attributes.items())
        with self._lock:
            self._totals[key] = self._totals.get(key, 0) + amount

    def _observe(self, _: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            totals = list(self._totals.items())
        return [Observation(total, dict(key)) for key, total in totals]
