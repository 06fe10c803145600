"""Tempo 3, Loki 3 and the API image: the settings the rest of the stack relies on."""

from __future__ import annotations

import re
from typing import Any

from .layout import (
    COLLECTOR_CONFIG,
    DOCKERFILE,
    GATEWAY_CONFIG,
    LOKI_CONFIG,
    REPO_ROOT,
    TEMPO_CONFIG,
    collector_default,
    load_yaml,
)

# Blocks that Tempo 3.0 removed (ingester-based architecture); Tempo refuses unknown keys.
TEMPO_2_ONLY_BLOCKS = {"ingester", "ingester_client", "compactor", "metrics_generator_client"}


def test_tempo_has_no_tempo_2_blocks() -> None:
    tempo = load_yaml(TEMPO_CONFIG)
    assert not TEMPO_2_ONLY_BLOCKS & set(tempo)
    assert tempo["target"] == "all"  # monolithic: no Kafka needed


def test_tempo_receives_otlp_on_all_interfaces() -> None:
    protocols = load_yaml(TEMPO_CONFIG)["distributor"]["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"
    # The gateways export the traces they keep to that gRPC port.
    gateway = load_yaml(GATEWAY_CONFIG)
    assert collector_default(gateway["exporters"]["otlp_grpc/tempo"]["endpoint"]) == "tempo:4317"


def test_tempo_stores_under_the_volume_and_keeps_a_retention() -> None:
    tempo = load_yaml(TEMPO_CONFIG)
    trace = tempo["storage"]["trace"]
    assert trace["backend"] == "local"
    assert trace["wal"]["path"].startswith("/var/tempo/")
    assert trace["local"]["path"].startswith("/var/tempo/")
    assert tempo["backend_worker"]["compaction"]["block_retention"]
    assert tempo["backend_scheduler"]["provider"]["compaction"]["compaction"]["block_retention"]


def test_span_metrics_have_one_source_only() -> None:
    """The gateways' connectors generate them from every span, so Tempo's metrics-generator stays off
    (it would also see only the sampled traces)."""
    tempo: dict[str, Any] = load_yaml(TEMPO_CONFIG)
    assert tempo["overrides"]["defaults"]["metrics_generator"]["processors"] == []
    assert "metrics_generator" not in tempo
    gateway = load_yaml(GATEWAY_CONFIG)
    assert {"span_metrics", "service_graph"} <= set(gateway["connectors"])


def test_loki_accepts_otlp_with_structured_metadata() -> None:
    loki = load_yaml(LOKI_CONFIG)
    assert loki["limits_config"]["allow_structured_metadata"] is True
    (schema,) = loki["schema_config"]["configs"]
    assert (schema["store"], schema["schema"]) == ("tsdb", "v13")
    assert loki["auth_enabled"] is False  # no X-Scope-OrgID from the collector
    assert loki["server"]["http_listen_port"] == 3100
    assert loki["common"]["path_prefix"] == "/loki"
    collector = load_yaml(COLLECTOR_CONFIG)
    assert collector_default(collector["exporters"]["otlp_http/loki"]["endpoint"]) == "http://loki:3100/otlp"


def test_dockerfile() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.12-slim\b", text, re.MULTILINE)
    # Dependency layer first, from the lock only, then the project.
    deps = text.index("COPY pyproject.toml uv.lock ./")
    deps_sync = text.index("uv sync --frozen --no-dev --no-install-project")
    src = text.index("COPY src ./src")
    full_sync = text.index("uv sync --frozen --no-dev\n")
    assert deps < deps_sync < src < full_sync
    assert "COPY migrations ./migrations" in text
    assert "alembic.ini" in text
    assert re.search(r"^USER (?!root)\S+", text, re.MULTILINE), "the API must not run as root"
    assert "HEALTHCHECK" in text
    assert "http://127.0.0.1:5001/health/live" in text
    assert 'CMD ["suppliers", "serve", "--host", "0.0.0.0", "--port", "5001"]' in text
    # uv pinned to the version the lock file was written with (the venv's uv).
    assert re.search(r'pip install "uv==\d+\.\d+\.\d+"', text)


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    ignored = set((REPO_ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".env", "tests", "compose"} <= ignored
    assert not {"src", "migrations", "pyproject.toml", "uv.lock", "README.md", "alembic.ini"} & ignored
