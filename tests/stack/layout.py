"""Where the stack's files live in the repository (the tests read them; nothing here runs Docker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO_ROOT / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
COLLECTOR_CONFIG = REPO_ROOT / "otel-collector.yaml"
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
