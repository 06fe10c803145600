"""The business instruments (``suppliers.*``), created once from a meter and passed to the services.

Each is a :class:`Tally` (a counter kept in Python, reported when the SDK collects): they are
counted on nearly every request, with attributes from small closed sets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from opentelemetry.metrics import CallbackOptions, Meter, NoOpMeterProvider, Observation

from suppliers.telemetry.tallies import Tally


class Instruments:
    def __init__(self, meter: Meter) -> None:
        self.transactions = Tally(
            meter,
            "suppliers.inventory.transactions",
            unit="{transaction}",
            description="Stock movements requested, by action and outcome",
        )
        self.units = Tally(
            meter,
            "suppliers.inventory.units",
            unit="{unit}",
            description="Units withdrawn from or added to stock",
        )
        self.resupplies = Tally(
            meter,
            "suppliers.inventory.resupplies",
            unit="{resupply}",
            description="Resupply runs that raised at least one product, by trigger",
        )
        self.resupplied_products = Tally(
            meter,
            "suppliers.inventory.resupplied_products",
            unit="{product}",
            description="Products raised by resupply runs, by trigger",
        )
        self.logins = Tally(
            meter, "suppliers.auth.logins", unit="{login}", description="Login attempts by outcome"
        )
        self.session_cache_lookups = Tally(
            meter,
            "suppliers.auth.session_cache.lookups",
            unit="{lookup}",
            description="Session cache lookups in Redis: hit, miss (read from the database) or error",
        )
        self._meter = meter

    def observe_low_stock(self, read: Callable[[], int | None]) -> None:
        """Report the low-stock count that ``read`` returns; it must be cheap (no query per collection)."""

        def callback(_: CallbackOptions) -> Iterable[Observation]:
            value = read()
            return [] if value is None else [Observation(value)]

        self._meter.create_observable_gauge(
            "suppliers.inventory.low_stock_products",
            callbacks=[callback],
            unit="{product}",
            description="Products below the resupply threshold, as last measured",
        )


def noop_instruments() -> Instruments:
    return Instruments(NoOpMeterProvider().get_meter("suppliers"))
