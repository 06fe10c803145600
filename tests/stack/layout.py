"""Where the stack's files live in the repository (the tests read them; nothing here runs Docker)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO_ROOT / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
COLLECTOR_CONFIG = REPO_ROOT / "otel-collector.yaml"
GATEWAY_CONFIG = REPO_ROOT / "otel-gateway.yaml"
PROMETHEUS_CONFIG = COMPOSE_DIR / "prometheus" / "prometheus.yml"
RULES_DIR = COMPOSE_DIR / "prometheus" / "rules"
TEMPO_CONFIG = COMPOSE_DIR / "tempo" / "tempo.yaml"
LOKI_CONFIG = COMPOSE_DIR / "loki" / "loki.yaml"
GRAFANA_DIR = COMPOSE_DIR / "grafana"
DATASOURCES_FILE = GRAFANA_DIR / "provisioning" / "datasources" / "datasources.yaml"
DASHBOARD_PROVIDERS_FILE = GRAFANA_DIR / "provisioning" / "dashboards" / "dashboards.yaml"
DASHBOARDS_DIR = GRAFANA_DIR / "dashboards"
DOCKERFILE = REPO_ROOT / "Dockerfile"


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_mapping(path: Path) -> dict[str, Any]:
    """A YAML file whose top level is a mapping (every configuration file of the stack)."""
    data = load_yaml(path)
    assert isinstance(data, dict), f"{path}: expected a mapping at the top level"
    return data


def relative(path: Path) -> str:
    """A path as shown in test messages: relative to the repository root."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}: compose's interpolation forms.
_INTERPOLATION = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")

# What compose/.env must provide (variables compose refuses to run without), as a test provides it.
REQUIRED_FROM_ENV = {"SUPPLIERS_JWT_SECRET": "test-secret-" + "x" * 40}


def interpolated_variables(text: str) -> list[tuple[str, str, str]]:
    """``(name, operator, default or message)`` of every interpolation in a compose file."""
    return _INTERPOLATION.findall(text)


def with_defaults(value: Any, env: dict[str, str] | None = None) -> Any:
    """Resolve interpolations the way compose does with only ``env`` set (defaults for the rest)."""
    provided = REQUIRED_FROM_ENV if env is None else env

    def resolve(match: re.Match[str]) -> str:
        name, operator, rest = match.groups()
        if name in provided:
            return provided[name]
        if operator == "?":
            raise KeyError(f"compose refuses to start: {rest}")
        return rest or ""

    return _INTERPOLATION.sub(resolve, value) if isinstance(value, str) else value


def compose_services() -> dict[str, Any]:
    return dict(load_mapping(COMPOSE_FILE)["services"])


def compose_environment(service: str) -> dict[str, str]:
    """A service's environment in compose/compose.yaml, with the defaults of unset variables."""
    environment = compose_services()[service].get("environment") or {}
    return {name: str(with_defaults(value)) for name, value in environment.items()}


_COLLECTOR_VARIABLE = re.compile(r"\$\{env:(\w+):-([^}]*)\}")


def collector_default(value: str) -> str:
    """``${env:NAME:-default}`` in a collector file → ``default``: the value under compose."""
    return _COLLECTOR_VARIABLE.sub(lambda m: m.group(2), value)
