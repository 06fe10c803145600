"""otel-collector.yaml (agent) and otel-gateway.yaml, checked by the collector release compose runs.

`otelcol validate` decides whether each file loads; `otelcol components` says what the distribution
(built by `make tools`) holds, so the manifest it was built from, the two shipped configs and the
compose image stay one set. The live runs of these very files are tests/stack/test_stack_live.py
and tests/stack/test_stack_sampling.py; here is what needs no servers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.collector_process import CONFIGS, components, validate

from .layout import (
    COLLECTOR_CONFIG,
    COMPOSE_FILE,
    GATEWAY_CONFIG,
    PROMETHEUS_CONFIG,
    REPO_ROOT,
    compose_services,
    load_mapping,
    load_yaml,
)

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
    "github.com/open-telemetry/opentelemetry-collector-contrib/processor/resourceprocessor v0.152.0",
    "github.com/open-telemetry/opentelemetry-collector-contrib/processor/tailsamplingprocessor v0.152.0",
    "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/loadbalancingexporter v0.152.0",
    "go.opentelemetry.io/collector/receiver/otlpreceiver v0.152.0",
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/hostmetricsreceiver v0.152.0",
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/postgresqlreceiver v0.152.0",
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/redisreceiver v0.152.0",
    "github.com/open-telemetry/opentelemetry-collector-contrib/connector/servicegraphconnector v0.152.0",
    "github.com/open-telemetry/opentelemetry-collector-contrib/connector/spanmetricsconnector v0.152.0",
    "go.opentelemetry.io/collector/confmap/provider/envprovider v1.58.0",
    "go.opentelemetry.io/collector/confmap/provider/fileprovider v1.58.0",
    "go.opentelemetry.io/collector/confmap/provider/yamlprovider v1.58.0",
}


@pytest.fixture(scope="module")
def agent() -> dict[str, Any]:
    return load_mapping(COLLECTOR_CONFIG)


@pytest.fixture(scope="module")
def gateway() -> dict[str, Any]:
    return load_mapping(GATEWAY_CONFIG)


@pytest.fixture(scope="module", params=CONFIGS, ids=lambda path: path.name)
def config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Each shipped file in turn, for the rules both roles follow."""
    return load_mapping(request.param)


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


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_otelcol_validate_accepts_the_shipped_file(path: Path) -> None:
    # The compose default /hostfs exists in compose only.
    result = validate(path, {"HOST_METRICS_ROOT_PATH": "/"})
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_binary_was_built_from_the_manifest(built: dict[str, Any]) -> None:
    """`make tools` is current: the distribution holds exactly the manifest's modules."""
    for kind, modules in manifest_modules().items():
        assert {c["module"] for c in built.get(kind) or []} == modules, kind
    version = load_mapping(MANIFEST)["dist"]["version"]
    assert built["buildinfo"]["version"] == version


def test_the_manifest_builds_exactly_the_components_the_configs_use(
    agent: dict[str, Any], gateway: dict[str, Any], built: dict[str, Any]
) -> None:
    """One component list for both roles: whatever either file uses, and nothing else."""
    in_agent, in_gateway = used_types(agent), used_types(gateway)
    for kind in KINDS:
        used = in_agent[kind] | in_gateway[kind]
        available = {c["name"] for c in built.get(kind) or []}
        assert used - available == set(), f"{kind} used but not in the manifest: {sorted(used - available)}"
        assert available - used == set(), f"{kind} in the manifest but unused: {sorted(available - used)}"


@pytest.mark.parametrize("service", ["otel-collector", "otel-gateway"])
def test_the_manifest_is_the_compose_image_release(service: str) -> None:
    image = compose_services()[service]["image"]
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


def test_the_agent_sends_spans_to_the_gateways_and_the_rest_to_the_backends(agent: dict[str, Any]) -> None:
    pipelines = agent["service"]["pipelines"]
    assert pipelines["traces"]["exporters"] == ["loadbalancing"]
    assert pipelines["metrics"]["receivers"] == ["otlp"]
    assert pipelines["metrics"]["exporters"] == ["otlp_http/prometheus"]
    assert set(pipelines["metrics/infra"]["receivers"]) == {"postgresql", "redis", "host_metrics"}
    assert "resourcedetection" in pipelines["metrics/infra"]["processors"]
    assert pipelines["logs"]["exporters"] == ["otlp_http/loki"]
    assert not agent.get("connectors"), "metrics from spans belong to the gateways, which see whole traces"


def test_the_agent_routes_by_trace_id_to_every_gateway_address(agent: dict[str, Any]) -> None:
    balancing = agent["exporters"]["loadbalancing"]
    assert balancing["routing_key"] == "traceID"
    assert list(balancing["resolver"]) == ["dns"]
    dns = balancing["resolver"]["dns"]
    # 0.152.0 reads the port as a string: an unquoted 4317 would be an int and fail to load.
    assert re.fullmatch(r'port: "\$\{env:GATEWAY_OTLP_PORT:-4317\}"', _line_of(COLLECTOR_CONFIG, 'port: "$'))
    assert dns["hostname"] == "${env:GATEWAY_HOSTNAME:-otel-gateway}"
    # A gateway's failure must reach the ring to be re-routed: no queue in the per-gateway exporter.
    assert balancing["protocol"]["otlp"]["sending_queue"]["enabled"] is False
    assert balancing["sending_queue"]["enabled"] is True
    assert balancing["retry_on_failure"]["enabled"] is True


def _line_of(path: Path, start: str) -> str:
    [line] = [line.strip() for line in path.read_text().splitlines() if line.strip().startswith(start)]
    return line


def test_the_gateway_counts_every_span_before_it_samples(gateway: dict[str, Any]) -> None:
    """Span metrics and the service graph read the receiver directly, not what sampling kept."""
    pipelines = gateway["service"]["pipelines"]
    counting, sampling = pipelines["traces/metrics"], pipelines["traces/sampling"]
    assert counting["receivers"] == sampling["receivers"] == ["otlp"]
    assert set(counting["exporters"]) == {"span_metrics", "service_graph"}
    assert "tail_sampling" not in counting["processors"]
    assert "tail_sampling" in sampling["processors"]
    assert sampling["exporters"] == ["otlp_grpc/tempo"]
    assert set(pipelines["metrics"]["receivers"]) == {"span_metrics", "service_graph"}
    assert "resource/gateway" in pipelines["metrics"]["processors"]
    assert pipelines["metrics"]["exporters"] == ["otlp_http/prometheus"]


SAMPLING_VARIABLES = {
    "slow": ("SAMPLING_SLOW_MS", "500"),
    "synthetic": ("SAMPLING_SYNTHETIC_PERCENT", "1"),
    "rest": ("SAMPLING_REST_PERCENT", "10"),
}


def test_the_sampling_policies_are_named_and_read_their_thresholds(gateway: dict[str, Any]) -> None:
    policies = {policy["name"]: policy for policy in gateway["processors"]["tail_sampling"]["policies"]}
    assert list(policies) == ["errors", "server-errors", "slow", "playground", "synthetic", "rest"]
    assert policies["errors"]["status_code"]["status_codes"] == ["ERROR"]
    assert policies["slow"]["latency"]["threshold_ms"] == "${env:SAMPLING_SLOW_MS:-500}"
    shares = {
        name: [sub for sub in policies[name]["and"]["and_sub_policy"] if sub["type"] == "probabilistic"]
        for name in ("synthetic", "rest")
    }
    assert (
        shares["synthetic"][0]["probabilistic"]["sampling_percentage"]
        == "${env:SAMPLING_SYNTHETIC_PERCENT:-1}"
    )
    assert shares["rest"][0]["probabilistic"]["sampling_percentage"] == "${env:SAMPLING_REST_PERCENT:-10}"
    # Deterministic: both shares hash the trace id with the default salt.
    assert not [s for found in shares.values() for s in found if "hash_salt" in s["probabilistic"]]
    environment = compose_services()["otel-gateway"]["environment"]
    for variable, default in SAMPLING_VARIABLES.values():
        assert environment[variable] == f"${{{variable}:-{default}}}", variable


def test_environment_defaults_are_the_compose_values() -> None:
    """Without any variable set, the files are compose's: services by name, the ports compose opens."""
    defaults = dict(re.findall(r"\$\{env:(\w+):-([^}]*)\}", COLLECTOR_CONFIG.read_text()))
    gateway_defaults = dict(re.findall(r"\$\{env:(\w+):-([^}]*)\}", GATEWAY_CONFIG.read_text()))
    services = compose_services()
    assert defaults["GATEWAY_HOSTNAME"] in services
    assert gateway_defaults["TEMPO_OTLP_ENDPOINT"].split(":", 1)[0] in services
    assert gateway_defaults["PROMETHEUS_OTLP_ENDPOINT"] == defaults["PROMETHEUS_OTLP_ENDPOINT"]
    assert defaults["GATEWAY_OTLP_PORT"] == gateway_defaults["COLLECTOR_OTLP_GRPC_ENDPOINT"].rsplit(":", 1)[1]
    for variable in ("POSTGRES_ENDPOINT", "REDIS_ENDPOINT"):
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


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_every_variable_the_config_reads_has_a_default(path: Path) -> None:
    text = path.read_text()
    bare = [name for name in re.findall(r"\$\{env:(\w+)\}", text)]
    assert not bare, f"without a default, compose would have to set these: {bare}"
    assert COMPOSE_FILE.exists()


def test_span_metrics_use_seconds_and_exemplars(gateway: dict[str, Any]) -> None:
    span_metrics = gateway["connectors"]["span_metrics"]
    assert span_metrics["histogram"]["unit"] == "s"
    assert span_metrics["exemplars"]["enabled"] is True
    assert "namespace" not in span_metrics  # default traces.span.metrics -> traces_span_metrics_*


def test_service_graph_names_database_nodes_by_system(gateway: dict[str, Any]) -> None:
    attributes = gateway["connectors"]["service_graph"]["database_name_attributes"]
    assert attributes[0] == "db.system.name"  # `postgresql`, `redis`: not the database name
