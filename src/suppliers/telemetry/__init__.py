"""Telemetry: providers, instrumentations, the /metrics route and the business instruments.

The rest of the code only asks this package for a tracer or records on an instrument.
"""
