"""The observability playground: requests that misbehave on purpose, to show their telemetry."""
