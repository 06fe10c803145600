"""otel-collector.yaml: a pipeline graph that otel/opentelemetry-collector-contrib:0.159.0 accepts.

The collector itself cannot be started here (no Docker, no binary on PyPI/Debian), so the
configuration is checked as data: every component referenced is defined and every defined one is
used, the names are 0.159.0's, memory_limiter comes first, and the endpoints meet the services
that compose actually runs.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from .layout import COLLECTOR_CONFIG, COMPOSE_FILE, PROMETHEUS_CONFIG, load_mapping, load_yaml

# Component type names valid in collector-contrib 0.159.0, by kind -- only those this stack may
# use, each with the deprecated alias it replaced (None: never renamed). Where they were read:
#   * exporters otlp_grpc/otlp_http: open-telemetry/opentelemetry-collector PR #14403 and #14397
#     (renamed in core v0.144.0, old names kept as deprecated aliases) and
#     exporter/otlphttpexporter/metadata.yaml (`type: otlp_http`, `deprecated_type: otlphttp`);
#   * span_metrics: connector/spanmetricsconnector/metadata.yaml and documentation.md in
#     opentelemetry-collector-contrib (`type: span_metrics`, `deprecated_type: spanmetrics`), and
#     factory.go (xconnector.WithDeprecatedTypeAlias);
#   * host_metrics (0.151), service_graph (0.151), resource_detection (0.153): contrib issue #45339
#     (snake_case renames), PR #48525 (resource_detection), and the renamed-component tables of
#     collector upgrade notes checked against 0.153 and 0.160 (dash0-operator PR #1394: v0.160.0's
#     metadata.yaml files carry the new `type` and the old `deprecated_type`);
#   * health_check: extension/healthcheckextension/metadata.yaml (`type: health_check`);
#   * otlp, postgresql, redis, prometheus, memory_limiter, batch, debug: unchanged
#     (receiver/postgresqlreceiver and receiver/redisreceiver metadata.yaml: `type: postgresql`,
#     `type: redis`).
VALID_COMPONENTS: dict[str, dict[str, str | None]] = {
    "receivers": {
        "otlp": None,
        "postgresql": None,
        "redis": None,
        "host_metrics": "hostmetrics",
        "prometheus": None,
    },
    "processors": {
        "memory_limiter": None,
        "batch": None,
        "resource_detection": "resourcedetection",
    },
    "connectors": {
        "span_metrics": "spanmetrics",
        "service_graph": "servicegraph",
    },
    "exporters": {
        "otlp_grpc": "otlp",
        "otlp_http": "otlphttp",
        "debug": None,
    },
    "extensions": {
        "health_check": None,
    },
}

# The connectors take traces in and give metrics out.
TRACES_TO_METRICS_CONNECTORS = {"span_metrics", "service_graph"}


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return load_mapping(COLLECTOR_CONFIG)


@pytest.fixture(scope="module")
def pipelines(config: dict[str, Any]) -> dict[str, Any]:
    return dict(config["service"]["pipelines"])


def component_type(component_id: str) -> str:
    """`otlp_http/loki` -> `otlp_http`."""
    return component_id.split("/", 1)[0]


def test_every_component_referenced_in_a_pipeline_is_defined(
    config: dict[str, Any], pipelines: dict[str, Any]
) -> None:
    connectors = set(config.get("connectors") or {})
    for name, pipeline in pipelines.items():
        for role in ("receivers", "processors", "exporters"):
            defined = set(config.get(role) or {})
            if role != "processors":
                defined |= connectors
            for component in pipeline.get(role, []):
                assert component in defined, f"pipeline {name}: {role[:-1]} {component} is not defined"
    for extension in config["service"].get("extensions", []):
        assert extension in (config.get("extensions") or {})


def test_every_defined_component_is_used(config: dict[str, Any], pipelines: dict[str, Any]) -> None:
    for role in ("receivers", "processors", "exporters"):
        used = {c for p in pipelines.values() for c in p.get(role, [])}
        unused = set(config.get(role) or {}) - used
        assert not unused, f"{role} defined but in no pipeline: {sorted(unused)}"
    for connector in config.get("connectors") or {}:
        as_exporter = any(connector in p.get("exporters", []) for p in pipelines.values())
        as_receiver = any(connector in p.get("receivers", []) for p in pipelines.values())
        assert as_exporter, f"connector {connector} must end a traces pipeline"
        assert as_receiver, f"connector {connector} must start a metrics pipeline"
    assert set(config.get("extensions") or {}) == set(config["service"].get("extensions", []))


def test_memory_limiter_comes_first_and_batch_last_in_every_pipeline(pipelines: dict[str, Any]) -> None:
    for name, pipeline in pipelines.items():
        processors = pipeline.get("processors", [])
        assert processors, f"pipeline {name} has no processors"
        assert component_type(processors[0]) == "memory_limiter", name
        assert component_type(processors[-1]) == "batch", name


def test_component_names_are_valid_for_0_159_and_not_deprecated_aliases(config: dict[str, Any]) -> None:
    for kind, valid in VALID_COMPONENTS.items():
        deprecated = {alias: name for name, alias in valid.items() if alias}
        for component_id in config.get(kind) or {}:
            kind_name = component_type(component_id)
            assert kind_name not in deprecated, (
                f"{kind}: {kind_name} is the deprecated alias of {deprecated[kind_name]}"
            )
            assert kind_name in valid, f"{kind}: {kind_name} is not a known 0.159.0 component"
    assert set(config) <= {"receivers", "processors", "exporters", "connectors", "extensions", "service"}


def test_pipeline_signals(pipelines: dict[str, Any]) -> None:
    for name, pipeline in pipelines.items():
        signal = name.split("/", 1)[0]
        assert signal in ("traces", "metrics", "logs"), name
        for connector in TRACES_TO_METRICS_CONNECTORS:
            if connector in pipeline.get("exporters", []):
                assert signal == "traces", f"{connector} consumes traces, not {signal}"
            if connector in pipeline.get("receivers", []):
                assert signal == "metrics", f"{connector} produces metrics, not {signal}"


def test_signals_reach_their_backends(pipelines: dict[str, Any]) -> None:
    assert "otlp_grpc/tempo" in pipelines["traces"]["exporters"]
    assert {"span_metrics", "service_graph"} <= set(pipelines["traces"]["exporters"])
    assert {"otlp", "span_metrics", "service_graph"} <= set(pipelines["metrics"]["receivers"])
    assert pipelines["metrics"]["exporters"] == ["otlp_http/prometheus"]
    assert set(pipelines["metrics/infra"]["receivers"]) == {"postgresql", "redis", "host_metrics"}
    assert "resource_detection" in pipelines["metrics/infra"]["processors"]
    assert pipelines["logs"]["exporters"] == ["otlp_http/loki"]


def test_receivers_listen_on_all_interfaces(config: dict[str, Any]) -> None:
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"
    assert config["extensions"]["health_check"]["endpoint"] == "0.0.0.0:13133"


def test_infrastructure_receivers(config: dict[str, Any]) -> None:
    postgresql = config["receivers"]["postgresql"]
    assert postgresql["endpoint"] == "postgres:5432"
    assert postgresql["username"] == "otel_monitor"
    assert postgresql["databases"] == ["suppliers"]
    assert config["receivers"]["redis"]["endpoint"] == "redis:6379"
    scrapers = set(config["receivers"]["host_metrics"]["scrapers"])
    assert scrapers == {"cpu", "memory", "load", "disk", "filesystem", "network", "paging", "processes"}
    assert config["processors"]["resource_detection"]["detectors"] == ["env", "system"]


def test_exporters_point_at_the_compose_services(config: dict[str, Any]) -> None:
    exporters = config["exporters"]
    assert exporters["otlp_http/prometheus"]["endpoint"] == "http://prometheus:9090/api/v1/otlp"
    assert exporters["otlp_http/loki"]["endpoint"] == "http://loki:3100/otlp"
    assert exporters["otlp_grpc/tempo"]["endpoint"] == "tempo:4317"
    assert exporters["otlp_grpc/tempo"]["tls"]["insecure"] is True
    services = load_yaml(COMPOSE_FILE)["services"]
    for exporter in exporters.values():
        host = re.sub(r"^\w+://", "", exporter["endpoint"]).split(":", 1)[0]
        assert host in services, f"{exporter['endpoint']}: no compose service {host}"


def test_environment_the_config_reads_is_set_by_compose(config: dict[str, Any]) -> None:
    needed = set(re.findall(r"\$\{env:(\w+)\}", COLLECTOR_CONFIG.read_text()))
    provided = set(load_yaml(COMPOSE_FILE)["services"]["otel-collector"]["environment"])
    assert needed <= provided


def test_span_metrics_use_seconds_and_exemplars(config: dict[str, Any]) -> None:
    span_metrics = config["connectors"]["span_metrics"]
    assert span_metrics["histogram"]["unit"] == "s"
    assert span_metrics["exemplars"]["enabled"] is True
    assert "namespace" not in span_metrics  # default traces.span.metrics -> traces_span_metrics_*


def test_collector_own_metrics_are_scraped_by_prometheus(config: dict[str, Any]) -> None:
    readers = config["service"]["telemetry"]["metrics"]["readers"]
    exporter = readers[0]["pull"]["exporter"]["prometheus"]
    assert exporter["host"] == "0.0.0.0"
    jobs = {job["job_name"]: job for job in load_yaml(PROMETHEUS_CONFIG)["scrape_configs"]}
    targets = jobs["otel-collector"]["static_configs"][0]["targets"]
    assert targets == [f"otel-collector:{exporter['port']}"]
