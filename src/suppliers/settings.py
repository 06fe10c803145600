"""The one place that reads the environment.

Everything configurable is a field of :class:`Settings`; the rest of the code receives a
``Settings`` instance and never calls ``os.getenv``. A bad value stops start-up with a one-line
message naming the variable, instead of a traceback deep inside a library.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, as a container's cpuset limits it)."""
    return len(os.sched_getaffinity(0))


class ConfigurationError(ValueError):
    """A setting has a value the service cannot run with."""


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _parse_url(raw: str) -> str | None:
    """A value where empty means unset (URLs, secrets)."""
    return raw.strip() or None


def _parse_optional(raw: str) -> str | None:
    return raw.strip().lower() or None


def _parse_exporters(raw: str) -> tuple[str, ...]:
    """A comma-separated OTEL_*_EXPORTER list, as the OpenTelemetry spec defines it."""
    names = tuple(dict.fromkeys(part.strip().lower() for part in raw.split(",") if part.strip()))
    unknown = [name for name in names if name not in TELEMETRY_EXPORTERS]
    if unknown:
        raise ValueError(f"unknown exporter {unknown[0]!r} (use {', '.join(TELEMETRY_EXPORTERS)})")
    return names or ("none",)


TELEMETRY_EXPORTERS = ("otlp", "console", "none")
OTLP_PROTOCOLS = ("http/protobuf", "grpc")


@dataclass(frozen=True, slots=True)
class Settings:
    """Typed runtime configuration. Field metadata holds the environment variable name."""

    database_url: str | None = field(default=None, metadata={"env": "DATABASE_URL", "parse": _parse_url})
    redis_url: str | None = field(default=None, metadata={"env": "REDIS_URL", "parse": _parse_url})
    host: str = field(default="127.0.0.1", metadata={"env": "SUPPLIERS_HOST"})
    port: int = field(default=5001, metadata={"env": "SUPPLIERS_PORT"})
    # Processes `suppliers serve` runs, each with its own pool and telemetry providers; unset: one
    # per CPU. An app built any other way (a test, a bare uvicorn) is a single process.
    workers: int | None = field(default=None, metadata={"env": "SUPPLIERS_WORKERS", "parse": int})
    data_dir: Path = field(default=Path(".data"), metadata={"env": "SUPPLIERS_DATA_DIR", "parse": Path})
    # Where the workers of one `suppliers serve` meet to answer /metrics with all their series (it
    # makes one for them); without it, several workers export metrics over OTLP only.
    metrics_dir: Path | None = field(
        default=None,
        metadata={"env": "SUPPLIERS_METRICS_DIR", "parse": lambda raw: Path(raw) if raw else None},
    )
    environment: str = field(default="development", metadata={"env": "SUPPLIERS_ENVIRONMENT"})
    log_level: str = field(default="INFO", metadata={"env": "SUPPLIERS_LOG_LEVEL"})

    db_pool_size: int = field(default=20, metadata={"env": "SUPPLIERS_DB_POOL_SIZE"})
    db_max_overflow: int = field(default=10, metadata={"env": "SUPPLIERS_DB_MAX_OVERFLOW"})
    db_pool_timeout: float = field(default=1.0, metadata={"env": "SUPPLIERS_DB_POOL_TIMEOUT"})

    # No default: outside development the API refuses to start without one (auth/secret.py).
    jwt_secret: str | None = field(
        default=None, metadata={"env": "SUPPLIERS_JWT_SECRET", "parse": _parse_url}
    )
    token_ttl_seconds: int = field(default=3600, metadata={"env": "SUPPLIERS_TOKEN_TTL_SECONDS"})
    session_cache_ttl_seconds: int = field(
        default=300, metadata={"env": "SUPPLIERS_SESSION_CACHE_TTL_SECONDS"}
    )
    login_max_failures: int = field(default=5, metadata={"env": "SUPPLIERS_LOGIN_MAX_FAILURES"})
    login_failure_window_seconds: int = field(
        default=60, metadata={"env": "SUPPLIERS_LOGIN_FAILURE_WINDOW_SECONDS"}
    )
    redis_timeout_seconds: float = field(default=0.5, metadata={"env": "SUPPLIERS_REDIS_TIMEOUT_SECONDS"})

    resupply_threshold: int = field(default=50, metadata={"env": "SUPPLIERS_RESUPPLY_THRESHOLD"})
    resupply_amount: int = field(default=50, metadata={"env": "SUPPLIERS_RESUPPLY_AMOUNT"})
    auto_resupply: bool = field(default=True, metadata={"env": "SUPPLIERS_AUTO_RESUPPLY"})
    auto_resupply_interval_seconds: float = field(
        default=30.0, metadata={"env": "SUPPLIERS_AUTO_RESUPPLY_INTERVAL_SECONDS"}
    )

    hello_max_delay_seconds: float = field(default=5.0, metadata={"env": "SUPPLIERS_HELLO_MAX_DELAY_SECONDS"})
    playground: bool = field(default=False, metadata={"env": "SUPPLIERS_PLAYGROUND"})
    access_log: bool = field(default=True, metadata={"env": "SUPPLIERS_ACCESS_LOG"})

    # The standard OpenTelemetry variables that decide what we build. The rest of them (endpoint,
    # headers, sampler, batch sizes, export interval, resource attributes) are read by the SDK itself.
    otel_sdk_disabled: bool = field(default=False, metadata={"env": "OTEL_SDK_DISABLED"})
    otel_traces_exporter: tuple[str, ...] = field(
        default=("otlp",), metadata={"env": "OTEL_TRACES_EXPORTER", "parse": _parse_exporters}
    )
    otel_metrics_exporter: tuple[str, ...] = field(
        default=("otlp",), metadata={"env": "OTEL_METRICS_EXPORTER", "parse": _parse_exporters}
    )
    otel_logs_exporter: tuple[str, ...] = field(
        default=("otlp",), metadata={"env": "OTEL_LOGS_EXPORTER", "parse": _parse_exporters}
    )
    otel_exporter_otlp_protocol: str = field(
        default="http/protobuf", metadata={"env": "OTEL_EXPORTER_OTLP_PROTOCOL", "parse": _parse_optional}
    )
    otel_exporter_otlp_traces_protocol: str | None = field(
        default=None, metadata={"env": "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "parse": _parse_optional}
    )
    otel_exporter_otlp_metrics_protocol: str | None = field(
        default=None, metadata={"env": "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "parse": _parse_optional}
    )
    otel_exporter_otlp_logs_protocol: str | None = field(
        default=None, metadata={"env": "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "parse": _parse_optional}
    )

    def __post_init__(self) -> None:
        problems = [
            ("SUPPLIERS_PORT", not 0 < self.port < 65536, "must be a TCP port (1-65535)"),
            ("SUPPLIERS_WORKERS", self.workers is not None and self.workers < 1, "must be at least 1"),
            ("SUPPLIERS_DB_POOL_SIZE", self.db_pool_size < 1, "must be at least 1"),
            ("SUPPLIERS_DB_MAX_OVERFLOW", self.db_max_overflow < 0, "must not be negative"),
            ("SUPPLIERS_DB_POOL_TIMEOUT", self.db_pool_timeout <= 0, "must be positive (seconds)"),
            ("SUPPLIERS_TOKEN_TTL_SECONDS", self.token_ttl_seconds < 1, "must be at least 1"),
            ("SUPPLIERS_SESSION_CACHE_TTL_SECONDS", self.session_cache_ttl_seconds < 1, "must be at least 1"),
            ("SUPPLIERS_LOGIN_MAX_FAILURES", self.login_max_failures < 1, "must be at least 1"),
            ("SUPPLIERS_RESUPPLY_THRESHOLD", self.resupply_threshold < 0, "must not be negative"),
            ("SUPPLIERS_RESUPPLY_AMOUNT", self.resupply_amount < 1, "must be at least 1"),
            (
                "SUPPLIERS_AUTO_RESUPPLY_INTERVAL_SECONDS",
                self.auto_resupply_interval_seconds <= 0,
                "must be positive (turn the job off with SUPPLIERS_AUTO_RESUPPLY=false)",
            ),
            ("SUPPLIERS_HELLO_MAX_DELAY_SECONDS", self.hello_max_delay_seconds < 0, "must not be negative"),
            (
                "SUPPLIERS_JWT_SECRET",
                self.jwt_secret is not None and len(self.jwt_secret) < 32,
                "must be at least 32 characters",
            ),
        ]
        for variable, bad, why in problems:
            if bad:
                raise ConfigurationError(f"{variable} {why}")
        for variable, protocol in (
            ("OTEL_EXPORTER_OTLP_PROTOCOL", self.otel_exporter_otlp_protocol),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", self.otel_exporter_otlp_traces_protocol),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", self.otel_exporter_otlp_metrics_protocol),
            ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", self.otel_exporter_otlp_logs_protocol),
        ):
            if protocol is not None and protocol not in OTLP_PROTOCOLS:
                raise ConfigurationError(
                    f"{variable}={protocol!r} is not supported here (use {' or '.join(OTLP_PROTOCOLS)})"
                )
        if self.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ConfigurationError("SUPPLIERS_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        for variable, url, schemes in (
            ("DATABASE_URL", self.database_url, ("postgresql://", "postgres://", "postgresql+asyncpg://")),
            ("REDIS_URL", self.redis_url, ("redis://", "rediss://", "unix://")),
        ):
            if url is not None and not url.startswith(schemes):
                raise ConfigurationError(f"{variable} must start with one of {', '.join(schemes)}")

    @property
    def processes(self) -> int:
        """How many processes serve the API side by side (each with its own metrics)."""
        return self.workers or 1

    def otlp_protocol(self, signal: str) -> str:
        """The OTLP protocol of a signal (traces, metrics, logs): its own variable, else the common one."""
        specific: str | None = getattr(self, f"otel_exporter_otlp_{signal}_protocol")
        return specific or self.otel_exporter_otlp_protocol

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from environment variables; ``overrides`` win over the environment."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            variable = spec.metadata["env"]
            if variable not in env:
                continue
            parse: Callable[[str], Any] = spec.metadata.get("parse") or _parser_for(spec.default)
            try:
                values[spec.name] = parse(env[variable])
            except ValueError as exc:
                raise ConfigurationError(f"{variable}={env[variable]!r} is invalid: {exc}") from None
        values.update(overrides)
        return cls(**values)

    def with_overrides(self, **overrides: Any) -> Settings:
        return replace(self, **overrides)


def _parser_for(default: object) -> Callable[[str], Any]:
    if isinstance(default, bool):
        return _parse_bool
    if isinstance(default, int):
        return int
    if isinstance(default, float):
        return float
    return str
