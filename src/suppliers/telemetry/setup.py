"""Builds the OpenTelemetry providers for one app instance and hands out tracers and instruments."""

from __future__ import annotations

from typing import Any

from opentelemetry.metrics import MeterProvider, NoOpMeterProvider
from opentelemetry.trace import NoOpTracerProvider, Tracer, TracerProvider

from suppliers import __version__
from suppliers.settings import Settings
from suppliers.telemetry.instruments import Instruments


class Telemetry:
    """The providers of one app. Passed in rather than global, so tests can build several apps."""

    def __init__(self, *, tracer_provider: TracerProvider, meter_provider: MeterProvider) -> None:
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self.instruments = Instruments(meter_provider.get_meter("suppliers", __version__))

    @classmethod
    def disabled(cls) -> Telemetry:
        return cls(tracer_provider=NoOpTracerProvider(), meter_provider=NoOpMeterProvider())

    @classmethod
    def from_settings(cls, settings: Settings) -> Telemetry:
        return cls.disabled()

    def tracer(self, name: str) -> Tracer:
        return self.tracer_provider.get_tracer(name, __version__)

    def route_handlers(self) -> list[Any]:
        return []

    def middleware(self) -> list[Any]:
        return []

    def plugins(self) -> list[Any]:
        return []

    def shutdown(self) -> None:
        return None
