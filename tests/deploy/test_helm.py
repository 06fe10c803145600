"""The Kubernetes chart (deploy/helm/suppliers), checked with the real tools: no cluster runs here.

`make tools` builds Helm v4 and kubecheck (k8s.io/api + the Prometheus Operator's types, strict
decoding) from Go modules. For several values sets: `helm lint --strict`, `helm template`, every
rendered object decoded strictly into its Go type, `otelcol validate` on each rendered collector
configuration with the container's own arguments and environment, `promtool check rules` on the
rendered rules; the dashboards and collector files byte-identical to compose's; the images those of
compose; a missing required value fails with its message.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.stack.layout import (
    COLLECTOR_CONFIG,
    COMPOSE_DIR,
    DASHBOARDS_DIR,
    GATEWAY_CONFIG,
    RULES_DIR,
    compose_services,
)
from tests.toolchain import REPO_ROOT, require_tool

CHART = REPO_ROOT / "deploy" / "helm" / "suppliers"
VALUES_DIR = REPO_ROOT / "deploy" / "helm" / "values"
RELEASE = "shop"
REQUIRED = {
    "api.jwtSecret": "chart-test-signing-key-" + "k" * 24,
    "api.databaseUrl": "postgresql+asyncpg://suppliers:secret@db.example:5432/suppliers",
    "api.redisUrl": "redis://cache.example:6379/0",
}
VALUES_SETS: dict[str, dict[str, str]] = {
    "defaults": REQUIRED,
    # Credentials in a Secret the operator manages; PostgreSQL and Redis named for the collector.
    "external-database": {
        "api.existingSecret": "suppliers-credentials",
        "collector.infra.postgresEndpoint": "pg.databases:5432",
        "collector.infra.redisEndpoint": "redis.databases:6379",
        "api.sampleData": "true",
    },
    "3-replicas-2-gateways": {
        **REQUIRED,
        "api.replicas": "3",
        "api.autoscaling.enabled": "false",
        "collector.gateway.replicas": "2",
        "monitoring.rulesConfigMap.enabled": "true",
    },
    "ingress": {
        **REQUIRED,
        "api.ingress.enabled": "true",
        "api.ingress.className": "nginx",
        "api.ingress.host": "suppliers.example.org",
        "api.ingress.tls[0].secretName": "suppliers-tls",
        "api.ingress.tls[0].hosts[0]": "suppliers.example.org",
    },
}


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(require_tool("helm")), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "HELM_CACHE_HOME": "/tmp/helm-cache", "HELM_CONFIG_HOME": "/tmp/helm-config"},
    )


def set_flags(values: dict[str, str]) -> list[str]:
    return [
        flag
        for key, value in values.items()
        for flag in ("--set-string" if key.endswith("Secret") or "Url" in key else "--set", f"{key}={value}")
    ]


@functools.cache
def rendered(name: str) -> str:
    done = helm("template", RELEASE, str(CHART), "--namespace", "shop", *set_flags(VALUES_SETS[name]))
    assert done.returncode == 0, done.stderr
    return done.stdout


def objects(name: str) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(rendered(name)) if document]


def find(name: str, kind: str, suffix: str) -> dict[str, Any]:
    [found] = [
        o for o in objects(name) if o["kind"] == kind and o["metadata"]["name"] == f"{RELEASE}-{suffix}"
    ]
    return found


@pytest.mark.parametrize("name", VALUES_SETS)
def test_helm_lint_strict(name: str) -> None:
    done = helm("lint", "--strict", str(CHART), *set_flags(VALUES_SETS[name]))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", VALUES_SETS)
def test_every_rendered_object_decodes_strictly_into_its_type(name: str) -> None:
    done = subprocess.run(
        [str(require_tool("kubecheck"))],
        input=rendered(name),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    kinds = {line.split()[0] for line in done.stdout.splitlines()}
    assert {"Deployment", "DaemonSet", "Service", "ConfigMap", "ServiceMonitor", "PrometheusRule"} <= kinds
    if name != "external-database":
        assert "Secret" in kinds


def test_kubecheck_refuses_a_misspelled_field() -> None:
    """The checker is strict: one wrong key in a valid Deployment fails, naming the field."""
    broken = re.sub(
        r"(kind: Deployment\n(?:.*\n)*?spec:\n)", r"\1  replicass: 2\n", rendered("defaults"), count=1
    )
    done = subprocess.run(
        [str(require_tool("kubecheck"))],
        input=broken,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert 'unknown field "spec.replicass"' in done.stderr, done.stderr


def container(workload: dict[str, Any]) -> dict[str, Any]:
    [found] = workload["spec"]["template"]["spec"]["containers"]
    assert isinstance(found, dict)
    return found


def config_files(name: str, tmp_path: Path) -> Path:
    config = find(name, "ConfigMap", "otel-config")
    folder = tmp_path / "otelcol-contrib"
    folder.mkdir(exist_ok=True)
    for file, text in config["data"].items():
        (folder / file).write_text(text)
    return folder


@pytest.mark.parametrize(
    ("kind", "suffix"),
    [("DaemonSet", "otel-agent"), ("Deployment", "otel-infra"), ("Deployment", "otel-gateway")],
)
def test_otelcol_validates_each_rendered_collector_as_its_container_runs_it(
    kind: str, suffix: str, tmp_path: Path
) -> None:
    folder = config_files("3-replicas-2-gateways", tmp_path)
    otelcol = container(find("3-replicas-2-gateways", kind, suffix))
    args = [arg.replace("/etc/otelcol-contrib", str(folder)) for arg in otelcol["args"]]
    env = {item["name"]: str(item.get("value", "from-a-secret")) for item in otelcol["env"]}
    env = {key: re.sub(r"\$\((\w+)\)", "node-1", value) for key, value in env.items()}
    env["HOST_METRICS_ROOT_PATH"] = "/"  # /hostfs is the node's filesystem, mounted in the pod only
    done = subprocess.run(
        [str(require_tool("otelcol")), "validate", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_collector_files_are_compose_files_byte_for_byte(tmp_path: Path) -> None:
    data = find("defaults", "ConfigMap", "otel-config")["data"]
    assert data["otel-collector.yaml"] == COLLECTOR_CONFIG.read_text()
    assert data["otel-gateway.yaml"] == GATEWAY_CONFIG.read_text()


def test_the_dashboards_are_compose_files_byte_for_byte() -> None:
    maps = [
        o for o in objects("defaults") if o["kind"] == "ConfigMap" and "-dashboard-" in o["metadata"]["name"]
    ]
    shipped = {path.name: path.read_text() for path in DASHBOARDS_DIR.glob("*.json")}
    assert len(shipped) == 6
    assert {file: text for m in maps for file, text in m["data"].items()} == shipped
    assert all(m["metadata"]["labels"]["grafana_dashboard"] == "1" for m in maps)


def test_promtool_checks_the_rendered_rules(tmp_path: Path) -> None:
    rule = find("3-replicas-2-gateways", "PrometheusRule", "rules")
    as_file = tmp_path / "rules.yml"
    as_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    files = [as_file]
    for name, text in find("3-replicas-2-gateways", "ConfigMap", "rules")["data"].items():
        (tmp_path / name).write_text(text)
        files.append(tmp_path / name)
        assert text == (RULES_DIR / name).read_text()
    done = subprocess.run(
        [str(require_tool("promtool")), "check", "rules", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    shipped = [
        g for path in sorted(RULES_DIR.glob("*.yml")) for g in yaml.safe_load(path.read_text())["groups"]
    ]
    assert rule["spec"]["groups"] == shipped


def test_the_chart_runs_compose_images_and_the_project_version() -> None:
    services = compose_services()
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert chart["appVersion"] == project
    for kind, suffix in (
        ("DaemonSet", "otel-agent"),
        ("Deployment", "otel-gateway"),
        ("Deployment", "otel-infra"),
    ):
        assert container(find("defaults", kind, suffix))["image"] == services["otel-collector"]["image"]
    api = container(find("defaults", "Deployment", "api"))
    assert api["image"] == f"suppliers-api:{project}"


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("api.jwtSecret", "api.jwtSecret is required"),
        ("api.databaseUrl", "api.databaseUrl is required"),
        ("api.redisUrl", "api.redisUrl is required"),
    ],
)
def test_a_missing_required_value_fails_with_its_message(missing: str, message: str) -> None:
    values = {key: value for key, value in REQUIRED.items() if key != missing}
    done = helm("template", RELEASE, str(CHART), *set_flags(values))
    assert done.returncode != 0
    assert message in done.stderr, done.stderr


def test_the_schema_refuses_a_short_signing_key() -> None:
    done = helm("template", RELEASE, str(CHART), *set_flags({**REQUIRED, "api.jwtSecret": "short"}))
    assert done.returncode != 0 and "jwtSecret" in done.stderr, done.stderr


def test_the_api_pod_is_locked_down_and_probed() -> None:
    deployment = find("defaults", "Deployment", "api")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    for item in (*pod["initContainers"], *pod["containers"]):
        security = item["securityContext"]
        assert security["runAsNonRoot"] and security["readOnlyRootFilesystem"]
        assert not security["allowPrivilegeEscalation"]
        assert {"name": "tmp", "mountPath": "/tmp"} in item["volumeMounts"]  # `suppliers serve` needs it
    assert pod["initContainers"][0]["command"] == ["suppliers", "db", "upgrade"]
    api = pod["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert api["livenessProbe"]["httpGet"]["path"] == "/health/live"
    env = {item["name"]: item for item in api["env"]}
    assert env["SUPPLIERS_JWT_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == f"{RELEASE}-api"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == f"http://{RELEASE}-otel-agent:4318"
    assert "replicas" not in deployment["spec"]  # the HorizontalPodAutoscaler decides
    assert find("defaults", "HorizontalPodAutoscaler", "api")["spec"]["maxReplicas"] >= 2
    assert find("defaults", "PodDisruptionBudget", "api")["spec"]["minAvailable"] == 1


def test_the_agents_route_to_the_gateways_headless_service() -> None:
    agent = container(find("defaults", "DaemonSet", "otel-agent"))
    env = {item["name"]: item.get("value") for item in agent["env"]}
    gateway_service = find("defaults", "Service", "otel-gateway")
    assert gateway_service["spec"]["clusterIP"] == "None"
    assert env["GATEWAY_HOSTNAME"] == gateway_service["metadata"]["name"]
    assert find("defaults", "Service", "otel-agent")["spec"]["internalTrafficPolicy"] == "Local"
    # Host metrics in every agent; PostgreSQL and Redis once, in the infra collector.
    assert "--set=service::pipelines::metrics/infra::receivers=[host_metrics]" in agent["args"]
    infra = container(find("defaults", "Deployment", "otel-infra"))
    assert "--set=service::pipelines::metrics/infra::receivers=[postgresql,redis]" in infra["args"]
    infra_env = {item["name"]: item.get("value") for item in infra["env"]}
    assert infra_env["POSTGRES_ENDPOINT"] == "db.example:5432"
    assert infra_env["REDIS_ENDPOINT"] == "cache.example:6379"


def test_the_scaled_set_renders_its_replicas() -> None:
    assert find("3-replicas-2-gateways", "Deployment", "api")["spec"]["replicas"] == 3
    assert find("3-replicas-2-gateways", "Deployment", "otel-gateway")["spec"]["replicas"] == 2
    assert not [o for o in objects("3-replicas-2-gateways") if o["kind"] == "HorizontalPodAutoscaler"]


def test_the_ingress_set_routes_to_the_api() -> None:
    ingress = find("ingress", "Ingress", "api")
    assert ingress["spec"]["rules"][0]["host"] == "suppliers.example.org"
    assert ingress["spec"]["tls"] == [{"secretName": "suppliers-tls", "hosts": ["suppliers.example.org"]}]


def test_the_external_set_uses_the_given_secret_and_seeds_once() -> None:
    assert not [o for o in objects("external-database") if o["kind"] == "Secret"]
    api = container(find("external-database", "Deployment", "api"))
    refs = {
        item["valueFrom"]["secretKeyRef"]["name"]
        for item in api["env"]
        if "valueFrom" in item and "secretKeyRef" in item["valueFrom"]
    }
    assert refs == {"suppliers-credentials"}
    [job] = [o for o in objects("external-database") if o["kind"] == "Job"]
    assert container(job)["command"] == ["suppliers", "seed"]


def test_compose_and_the_chart_agree_on_the_sampling_defaults() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())["collector"]["gateway"]["sampling"]
    compose = compose_services()["otel-gateway"]["environment"]
    pairs = {
        "slowMs": "SAMPLING_SLOW_MS",
        "restPercent": "SAMPLING_REST_PERCENT",
        "syntheticPercent": "SAMPLING_SYNTHETIC_PERCENT",
        "decisionWait": "SAMPLING_DECISION_WAIT",
    }
    for key, variable in pairs.items():
        assert compose[variable] == f"${{{variable}:-{values[key]}}}", key
    assert COMPOSE_DIR.exists()


def test_the_prometheus_values_are_fields_of_the_operators_prometheus_type() -> None:
    """kube-prometheus-stack copies prometheus.prometheusSpec into a Prometheus object: decoded strictly
    here, a misspelled key (enableOTLPReceiver, otlp.promoteResourceAttributes, …) would fail."""
    values = yaml.safe_load((VALUES_DIR / "kube-prometheus-stack.yaml").read_text())
    spec = values["prometheus"]["prometheusSpec"]
    prometheus = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Prometheus",
        "metadata": {"name": "k"},
        "spec": spec,
    }
    done = subprocess.run(
        [str(require_tool("kubecheck"))],
        input=yaml.safe_dump(prometheus),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # The same resource attributes as compose's Prometheus promotes.
    compose = yaml.safe_load((COMPOSE_DIR / "prometheus" / "prometheus.yml").read_text())["otlp"]
    assert spec["otlp"]["promoteResourceAttributes"] == compose["promote_resource_attributes"]
    assert spec["otlp"]["translationStrategy"] == compose["translation_strategy"]


def test_the_grafana_values_give_the_datasource_uids_the_dashboards_use() -> None:
    def datasource_uids(node: Any) -> set[str]:
        if isinstance(node, dict):
            found = {str(node["datasource"]["uid"])} if isinstance(node.get("datasource"), dict) else set()
            return found.union(*(datasource_uids(value) for value in node.values()))
        if isinstance(node, list):
            return set().union(*(datasource_uids(value) for value in node))
        return set()

    used = set().union(*(datasource_uids(json.loads(p.read_text())) for p in DASHBOARDS_DIR.glob("*.json")))
    for file in ("kube-prometheus-stack.yaml", "grafana.yaml"):
        values = yaml.safe_load((VALUES_DIR / file).read_text())
        sources = (
            values["grafana"]["additionalDataSources"]
            if "grafana" in values
            else values["datasources"]["datasources.yaml"]["datasources"]
        )
        uids = {source["uid"] for source in sources}
        assert used - {"grafana", "-- Grafana --"} <= uids, (file, used, uids)
