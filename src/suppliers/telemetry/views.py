"""What the meter provider aggregates: every instrument as created, with two exceptions that cost
more than they tell (measured by `python -m bench.compare`, see the README's benchmark section).

* The request and response body-size histograms are dropped: two more measurements per request
  that no dashboard reads. Remove their Views to get them back.
* Exemplars are kept on histograms only. An exemplar is what links a latency bucket to the trace of
  one request (Grafana's diamonds); on a counter it would link "one more withdrawal" to a trace,
  which nobody follows, yet sampling it costs every measurement of every counter in a request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.metrics import Counter, Exemplar, ExemplarReservoir, UpDownCounter
from opentelemetry.sdk.metrics.view import DropAggregation, View
from opentelemetry.util.types import Attributes

DROPPED = ("http.server.request.body.size", "http.server.response.body.size")


class NoExemplars(ExemplarReservoir):
    """Keeps nothing: the measurement is aggregated, no exemplar is sampled from it."""

    def offer(
        self, value: int | float, time_unix_nano: int, attributes: Attributes, context: Context
    ) -> None:
        return None

    def collect(self, point_attributes: Attributes) -> list[Exemplar]:
        return []


def _no_exemplars(_aggregation: type[Any]) -> Callable[..., ExemplarReservoir]:
    return lambda **_: NoExemplars()


def views() -> Sequence[View]:
    return [
        *(View(instrument_name=name, aggregation=DropAggregation()) for name in DROPPED),
        *(
            View(instrument_type=kind, exemplar_reservoir_factory=_no_exemplars)
            for kind in (Counter, UpDownCounter)
        ),
    ]
