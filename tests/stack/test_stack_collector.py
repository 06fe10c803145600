"""otel-collector.yaml, checked by the collector release compose runs (built by `make tools`).

`otelcol validate` decides whether the file loads; `otelcol components` says what the distribution
holds, so the manifest it was built from, the shipped config and the compose image stay one set.
The live run of this very file is tests/stack/test_stack_live.py; here is what needs no servers.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.collector_process import COLLECTOR_CONFIG, components, validate

from .layout import COMPOSE_FILE, PROMETHEUS_CONFIG, REPO_ROOT, compose_services, load_mapping, load_yaml

MANIFEST = REPO_ROOT / "tools" / "otelcol" / "manifest.yaml"
KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")
CONTRIB_IMAGE = "otel/opentelemetry-collector-contrib"
# Modules of the compose image, read from its own manifest at its tag (the lines for the modules
# this stack uses): open-telemetry/opentelemetry-collector-releases@v0.152.0,
# distributions/otelcol-contrib/manifest.yaml. So the binary the tests run holds the same code.
IN_THE_CONTRIB_IMAGE = {
    "github.com/open-telemetry/opentelemetry-collector-contrib/extension/healthcheckextension v0.152.0",
    "go.opentelemetry.io/collector/exporter/otlpexporter v0.152.0",
    "go.opentelemetry.io/collector/exporter/otlphttpexporter v0.152.0",
    "go.opentelemetry.io/collector/processor/batchprocessor v0.152.0",
    "go.opentelemetry.io/collector/processor/memorylimiterprocessor v0.152.0",
    "github.com/open-telemetry/opentelemetry-collector-contrib/processor/resourcedetectionprocessor v0.152.0",
    "go.opentelemetry.io/collector/receiver/otlpreceiver v0.152.0",
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/hostmetricsreceiver v0.152.0",
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/postgresqlreceiver v0.152.0",
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/redisreceiver v0.152.0",
    "github.com/open-telemetry/opentelemetry-collector-contrib/connector/servicegraphconnector v0.152.0",
    "github.com/open-telemetry/opentelemetry-collector-contrib/connector/spanmetricsconnector v0.152.0",
    "go.opentelemetry.io/collector/confmap/provider/envprovider v1.58.0",
    "go.opentelemetry.io/collector/confmap/provider/fileprovider v1.58.0",
}


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return load_mapping(COLLECTOR_CONFIG)


@pytest.fixture(scope="module")
def pipelines(config: dict[str, Any]) -> dict[str, Any]:
    return dict(config["service"]["pipelines"])


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    listed: dict[str, Any] = yaml.safe_load(components())
    return listed


def component_type(component_id: str) -> str:
    """`otlp_http/loki` -> `otlp_http`."""
    return component_id.split("/", 1)[0]


def used_types(config: dict[str, Any]) -> dict[str, set[str]]:
    return {kind: {component_type(c) for c in config.get(kind) or {}} for kind in KINDS}


def manifest_modules() -> dict[str, set[str]]:
    manifest = load_mapping(MANIFEST)
    return {kind: {entry["gomod"] for entry in manifest.get(kind) or []} for kind in KINDS}


def test_otelcol_validate_accepts_the_shipped_file() -> None:
    result = validate({"HOST_METRICS_ROOT_PATH": "/"})  # the compose default /hostfs exists in compose only
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_binary_was_built_from_the_manifest(built: dict[str, Any]) -> None:
    """`make tools` is current: the distribution holds exactly the manifest's modules."""
    for kind, modules in manifest_modules().items():
        assert {c["module"] for c in built.get(kind) or []} == modules, kind
    version = load_mapping(MANIFEST)["dist"]["version"]
    assert built["buildinfo"]["version"] == version


def test_the_manifest_builds_exactly_the_components_the_config_uses(
    config: dict[str, Any], built: dict[str, Any]
) -> None:
    for kind, used in used_types(config).items():
        available = {c["name"] for c in built.get(kind) or []}
        assert used - available == set(), f"{kind} used but not in the manifest: {sorted(used - available)}"
        assert available - used == set(), f"{kind} in the manifest but unused: {sorted(available - used)}"


def test_the_manifest_is_the_compose_image_release() -> None:
    image = compose_services()["otel-collector"]["image"]
    name, _, tag = image.rpartition(":")
    assert name == CONTRIB_IMAGE
    assert load_mapping(MANIFEST)["dist"]["version"] == tag
    providers = {entry["gomod"] for entry in load_mapping(MANIFEST)["providers"]}
    built_modules = set().union(*manifest_modules().values()) | providers
    assert built_modules <= IN_THE_CONTRIB_IMAGE, sorted(built_modules - IN_THE_CONTRIB_IMAGE)


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


def test_every_defined_component_is_used(config: dict[str, Any], pipelines: dict[str, Any]) -> None:
    """The collector ignores a defined but unused component: that would be dead configuration."""
    for role in ("receivers", "processors", "exporters"):
        used = {c for p in pipelines.values() for c in p.get(role, [])}
        unused = set(config.get(role) or {}) - used
        assert not unused, f"{role} defined but in no pipeline: {sorted(unused)}"
    assert set(config.get("extensions") or {}) == set(config["service"].get("extensions", []))


def test_memory_limiter_comes_first_and_batch_last_in_every_pipeline(pipelines: dict[str, Any]) -> None:
    for name, pipeline in pipelines.items():
        processors = pipeline.get("processors", [])
        assert component_type(processors[0]) == "memory_limiter", name
        assert component_type(processors[-1]) == "batch", name


def test_signals_reach_their_backends(pipelines: dict[str, Any]) -> None:
    assert "otlp_grpc/tempo" in pipelines["traces"]["exporters"]
    assert {"span_metrics", "service_graph"} <= set(pipelines["traces"]["exporters"])
    assert {"otlp", "span_metrics", "service_graph"} <= set(pipelines["metrics"]["receivers"])
    assert pipelines["metrics"]["exporters"] == ["otlp_http/prometheus"]
    assert set(pipelines["metrics/infra"]["receivers"]) == {"postgresql", "redis", "host_metrics"}
    assert "resourcedetection" in pipelines["metrics/infra"]["processors"]
    assert pipelines["logs"]["exporters"] == ["otlp_http/loki"]


def test_environment_defaults_are_the_compose_values() -> None:
    """Without any variable set, the file is compose's: services by name, the ports compose opens."""
    defaults = dict(re.findall(r"\$\{env:(\w+):-([^}]*)\}", COLLECTOR_CONFIG.read_text()))
    services = compose_services()
    for variable in ("POSTGRES_ENDPOINT", "REDIS_ENDPOINT", "TEMPO_OTLP_ENDPOINT"):
        host = defaults[variable].split(":", 1)[0]
        assert host in services, f"{variable}: no compose service {host}"
    for variable in ("PROMETHEUS_OTLP_ENDPOINT", "LOKI_OTLP_ENDPOINT"):
        host = re.sub(r"^\w+://", "", defaults[variable]).split(":", 1)[0]
        assert host in services, f"{variable}: no compose service {host}"
    assert defaults["POSTGRES_DB"] == services["postgres"]["environment"]["POSTGRES_DB"]
    postgres_password = services["postgres"]["environment"]["OTEL_MONITOR_PASSWORD"]
    assert f"${{OTEL_MONITOR_PASSWORD:-{defaults['OTEL_MONITOR_PASSWORD']}}}" == postgres_password
    # Listeners on every interface, on the ports compose publishes and Prometheus scrapes.
    assert defaults["COLLECTOR_OTLP_GRPC_ENDPOINT"] == "0.0.0.0:4317"
    assert defaults["COLLECTOR_OTLP_HTTP_ENDPOINT"] == "0.0.0.0:4318"
    assert defaults["COLLECTOR_HEALTH_ENDPOINT"] == "0.0.0.0:13133"
    assert defaults["COLLECTOR_TELEMETRY_HOST"] == "0.0.0.0"
    jobs = {job["job_name"]: job for job in load_yaml(PROMETHEUS_CONFIG)["scrape_configs"]}
    assert jobs["otel-collector"]["static_configs"][0]["targets"] == [
        f"otel-collector:{defaults['COLLECTOR_TELEMETRY_PORT']}"
    ]
    assert defaults["HOST_METRICS_ROOT_PATH"] == "/hostfs"
    assert "/:/hostfs:ro" in services["otel-collector"]["volumes"]


def test_every_variable_the_config_reads_has_a_default() -> None:
    text = COLLECTOR_CONFIG.read_text()
    bare = [name for name in re.findall(r"\$\{env:(\w+)\}", text)]
    assert not bare, f"without a default, compose would have to set these: {bare}"
    assert COMPOSE_FILE.exists()


def test_span_metrics_use_seconds_and_exemplars(config: dict[str, Any]) -> None:
    span_metrics = config["connectors"]["span_metrics"]
    assert span_metrics["histogram"]["unit"] == "s"
    assert span_metrics["exemplars"]["enabled"] is True
    assert "namespace" not in span_metrics  # default traces.span.metrics -> traces_span_metrics_*


def test_service_graph_names_database_nodes_by_system(config: dict[str, Any]) -> None:
    attributes = config["connectors"]["service_graph"]["database_name_attributes"]
    assert attributes[0] == "db.system.name"  # `postgresql`, `redis`: not the database name
