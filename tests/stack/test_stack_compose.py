"""compose/compose.yaml: valid against the Compose Specification, and internally consistent.

No Docker engine runs here, so the stack is checked as data: the schema (check-jsonschema's
vendored Compose Specification, works offline), then what the schema cannot see -- references
between services, volumes, pinned images, ports, health checks and the files mounted from the repo.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .layout import (
    COMPOSE_DIR,
    COMPOSE_FILE,
    DOCKERFILE,
    ENV_EXAMPLE,
    PROMETHEUS_CONFIG,
    REPO_ROOT,
    interpolated_variables,
    load_mapping,
    load_yaml,
    with_defaults,
)

# The images the stack is built and tested against (docker-otel-lgtm v0.31.0's set for the
# observability backends; the collector at 0.152.0, the newest release that builds from the module
# proxy, see tools/otelcol/manifest.yaml). A change here is a deliberate upgrade: re-read that
# version's config reference and Dockerfile first.
PINNED_IMAGES = {
    "postgres": "postgres:18.6-trixie",
    "redis": "redis:8.6",
    "migrate": "suppliers-api:local",
    "api": "suppliers-api:local",
    "balancer": "nginx:1.30.4-alpine",
    "otel-collector": "otel/opentelemetry-collector-contrib:0.152.0",
    "otel-collector-ready": "busybox:1.37.0",
    "otel-gateway": "otel/opentelemetry-collector-contrib:0.152.0",
    "otel-gateway-ready": "busybox:1.37.0",
    "prometheus": "prom/prometheus:v3.14.0",
    "tempo": "grafana/tempo:3.0.3",
    "loki": "grafana/loki:3.7.6",
    "grafana": "grafana/grafana:13.2.0",
    "locust": "locustio/locust:2.46.6",
}


@dataclass(frozen=True)
class ImageContents:
    """What a health check can run inside an image, as its Dockerfile builds it."""

    shell: bool
    programs: frozenset[str]
    read_from: str


# Read from each image's own Dockerfile (and, where a binary probes itself, its source), at the tag
# pinned above or, where noted, the nearest version that could be read.
IMAGES = {
    "postgres:18.6-trixie": ImageContents(
        True,
        frozenset({"pg_isready", "psql"}),
        "docker-library/postgres@e00e1bd3 18/trixie/Dockerfile: debian:trixie-slim + postgresql-18; "
        "wget is removed after the build",
    ),
    "redis:8.6": ImageContents(
        True,
        frozenset({"redis-cli"}),
        "redis/docker-library-redis@v8.6.6 debian/Dockerfile: debian:trixie-slim; wget, python3 build-only",
    ),
    "suppliers-api:local": ImageContents(
        True,
        frozenset({"python", "/app/.venv/bin/python"}),
        "Dockerfile of this repository: python:3.12-slim",
    ),
    "otel/opentelemetry-collector-contrib:0.152.0": ImageContents(
        False,
        frozenset(),
        "open-telemetry/opentelemetry-collector-releases@v0.152.0 distributions/otelcol-contrib/Dockerfile: "
        "FROM scratch, /otelcol-contrib and CA certificates only",
    ),
    "busybox:1.37.0": ImageContents(
        True,
        frozenset({"sh", "wget", "seq", "nc"}),
        "docker-library/busybox 1.37.0 (glibc variant, the default tag): scratch + busybox",
    ),
    "prom/prometheus:v3.14.0": ImageContents(
        True,
        frozenset({"wget", "nc"}),
        "prometheus/prometheus@v3.14.0 Dockerfile: quay.io/prometheus/busybox-linux-amd64 base",
    ),
    "grafana/tempo:3.0.3": ImageContents(
        False,
        frozenset({"/tempo"}),
        "grafana/tempo@v3.0.3 cmd/tempo/Dockerfile: distroless static-debian12; cmd/tempo/health.go: "
        "`/tempo -health` GETs localhost:3200/ready, exit 0 on 200",
    ),
    "grafana/loki:3.7.6": ImageContents(
        False,
        frozenset({"/usr/bin/loki"}),
        "grafana/loki@v3.7.6 cmd/loki/Dockerfile: gcr.io/distroless/static:nonroot (busybox gone since "
        "3.6); cmd/loki/health.go: `loki -health` GETs localhost:3100/ready",
    ),
    "grafana/grafana:13.2.0": ImageContents(
        True,
        frozenset({"wget", "curl"}),
        "grafana/grafana Dockerfile, default stage final-alpine (alpine + curl, busybox wget); read at a "
        "2026 commit of main, the v13.2.0 tag could not be fetched",
    ),
    "nginx:1.30.4-alpine": ImageContents(
        True,
        frozenset({"wget", "curl"}),
        "nginx/docker-nginx stable/alpine/Dockerfile (NGINX_VERSION 1.30.4): nginx:1.30.4-alpine-slim "
        "(alpine:3.24, busybox wget) + curl",
    ),
    "locustio/locust:2.46.6": ImageContents(
        True,
        frozenset({"python"}),
        "locustio/locust Dockerfile.ci, read at 2.46.3 (unchanged on master): python:3.13-slim",
    ),
}

# (service, container port) -> host port, as published with the defaults of .env.example.
REQUIRED_HOST_PORTS = {
    ("balancer", 5001): 5001,
    ("grafana", 3000): 3001,
    ("prometheus", 9090): 9091,
    ("postgres", 5432): 5433,
    ("redis", 6379): 6380,
    ("tempo", 3200): 3200,
    ("loki", 3100): 3100,
    ("locust", 8089): 8089,
    ("otel-collector", 4317): 4317,
    ("otel-collector", 4318): 4318,
    ("otel-collector", 13133): 13133,
}

# Run once and exit: `restart: "no"`, waited for with service_completed_successfully.
ONE_SHOT_SERVICES = {"migrate", "otel-collector-ready", "otel-gateway-ready"}
# Started, with nothing inside to probe it: what needs it waits for its one-shot waiter instead.
WAITED_FOR_BY = {"otel-collector": "otel-collector-ready", "otel-gateway": "otel-gateway-ready"}

API_ENVIRONMENT = {
    "SUPPLIERS_PLAYGROUND": "true",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector:4318",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    "OTEL_SERVICE_NAME": "suppliers-api",
    "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=compose",
    "OTEL_METRIC_EXPORT_INTERVAL": "15000",
    "DATABASE_URL": "postgresql+asyncpg://suppliers:suppliers123@postgres:5432/suppliers",
    "REDIS_URL": "redis://redis:6379/0",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_mapping(COMPOSE_FILE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return dict(compose["services"])


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    # The venv's own check-jsonschema; its Compose Specification schema is vendored (no network).
    binary = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(binary), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_the_expected_services_exist(services: dict[str, Any]) -> None:
    assert set(services) == set(PINNED_IMAGES)


@pytest.mark.parametrize("service", sorted(PINNED_IMAGES))
def test_every_image_is_pinned_to_a_version(services: dict[str, Any], service: str) -> None:
    image = services[service]["image"]
    name, _, tag = image.rpartition(":")
    assert name, f"{service}: image {image!r} has no name"
    assert "/" not in tag, f"{service}: image {image!r} has no tag"
    assert tag != "latest", f"{service}: {image!r} is not pinned"
    assert re.search(r"\d", tag) or tag == "local", f"{service}: tag {tag!r} is not a version"
    assert image == PINNED_IMAGES[service]


def test_services_built_from_the_repository_use_its_dockerfile(services: dict[str, Any]) -> None:
    for name in ("api", "migrate"):
        build = services[name]["build"]
        assert (COMPOSE_DIR / build["context"]).resolve() == REPO_ROOT
        assert (REPO_ROOT / build["dockerfile"]).resolve() == DOCKERFILE


def test_depends_on_targets_exist_and_conditions_can_be_met(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for target, spec in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[target], (
                    f"{name} waits for {target} to be healthy, it has no healthcheck"
                )
            elif condition == "service_completed_successfully":
                assert target in ONE_SHOT_SERVICES, f"{target} is not a one-shot job"
            else:
                assert condition == "service_started"
                assert WAITED_FOR_BY.get(target) == name, f"{name} should wait for {target} to be healthy"


def test_start_order(services: dict[str, Any]) -> None:
    api = services["api"]["depends_on"]
    assert api["migrate"]["condition"] == "service_completed_successfully"
    assert api["postgres"]["condition"] == "service_healthy"
    assert api["redis"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["balancer"]["depends_on"]["api"]["condition"] == "service_healthy"
    assert services["locust"]["depends_on"]["balancer"]["condition"] == "service_healthy"
    assert api["otel-collector-ready"]["condition"] == "service_completed_successfully"
    collector = services["otel-collector"]["depends_on"]
    assert {target: spec["condition"] for target, spec in collector.items()} == {
        "postgres": "service_healthy",
        "redis": "service_healthy",
        "prometheus": "service_healthy",
        "loki": "service_healthy",
        "otel-gateway-ready": "service_completed_successfully",
    }
    gateway = services["otel-gateway"]["depends_on"]
    assert {target: spec["condition"] for target, spec in gateway.items()} == {
        "prometheus": "service_healthy",
        "tempo": "service_healthy",
    }


def test_depends_on_has_no_cycle(services: dict[str, Any]) -> None:
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        assert state.get(name) != "visiting", f"dependency cycle: {' -> '.join([*path, name])}"
        state[name] = "visiting"
        for target in services[name].get("depends_on", {}):
            visit(target, [*path, name])
        state[name] = "done"

    for name in services:
        visit(name, [])


def test_one_shot_jobs_are_not_restarted(services: dict[str, Any]) -> None:
    for name in ONE_SHOT_SERVICES:
        assert services[name]["restart"] == "no"
    assert services["migrate"]["command"] == ["suppliers", "seed"]


def test_named_volumes_are_declared_and_used(compose: dict[str, Any], services: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume["source"]
            if source.startswith((".", "/", "~")):
                continue  # a bind mount
            assert source in declared, f"{name} uses undeclared volume {source}"
            used.add(source)
    assert used == declared, f"declared but unused: {sorted(declared - used)}"


def test_stateful_services_keep_their_data_in_named_volumes(services: dict[str, Any]) -> None:
    def mounts(name: str) -> set[str]:
        return {v for v in services[name].get("volumes", []) if isinstance(v, str)}

    # PostgreSQL 18 images declare the volume at /var/lib/postgresql (data in 18/docker below it).
    assert "postgres-data:/var/lib/postgresql" in mounts("postgres")
    assert "prometheus-data:/prometheus" in mounts("prometheus")
    assert "tempo-data:/var/tempo" in mounts("tempo")
    assert "loki-data:/loki" in mounts("loki")
    assert "grafana-data:/var/lib/grafana" in mounts("grafana")


def test_bind_mounted_files_exist(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith("."):
                continue
            path = (COMPOSE_DIR / source).resolve()
            if path == REPO_ROOT / "load":
                continue  # the Locust scenarios are maintained with the app, not with the stack
            assert path.exists(), f"{name} mounts {source}, which does not exist"


def _published(service: dict[str, Any]) -> dict[int, int]:
    ports = {}
    for entry in service.get("ports", []):
        host, _, container = with_defaults(str(entry)).rpartition(":")
        ports[int(container)] = int(host.rsplit(":", 1)[-1])
    return ports


@pytest.mark.parametrize(("service_port", "host_port"), sorted(REQUIRED_HOST_PORTS.items()))
def test_required_host_ports_are_published(
    services: dict[str, Any], service_port: tuple[str, int], host_port: int
) -> None:
    service, container_port = service_port
    assert _published(services[service]).get(container_port) == host_port


def test_the_api_scales_behind_the_balancer(services: dict[str, Any]) -> None:
    """`--scale api=N` needs replicas without a host port; the balancer resolves the service name."""
    assert "ports" not in services["api"]
    config = (COMPOSE_DIR / "balancer" / "nginx.conf").read_text()
    assert re.search(r"server api:5001 resolve;", config)
    assert "resolver 127.0.0.11" in config  # Docker's embedded DNS
    assert "include /etc/nginx/suppliers/proxy.conf;" in config
    assert "./balancer/proxy.conf:/etc/nginx/suppliers/proxy.conf:ro" in services["balancer"]["volumes"]
    assert services["locust"]["command"][services["locust"]["command"].index("--host") + 1] == (
        "http://balancer:5001"
    )


def test_three_replicas_of_the_api_fit_in_postgresqls_connections(services: dict[str, Any]) -> None:
    """The README's scaling example, `--scale api=3`, at full load cannot run out of connections."""
    from suppliers.settings import Settings

    api = Settings.from_env({k: str(with_defaults(v)) for k, v in services["api"]["environment"].items()})
    command = services["postgres"]["command"]
    allowed = int(next(arg.split("=", 1)[1] for arg in command if arg.startswith("max_connections=")))
    assert api.workers, "compose fixes the worker count: one per CPU would depend on the host"
    per_replica = api.workers * (api.db_pool_size + api.db_max_overflow)
    # Beside the API: the collector's postgresql receiver, the migration job, an operator's psql.
    assert 3 * per_replica + 10 <= allowed, (api.workers, per_replica, allowed)


def test_no_host_port_is_published_twice(services: dict[str, Any]) -> None:
    host_ports = [port for s in services.values() for port in _published(s).values()]
    assert len(host_ports) == len(set(host_ports))


def test_every_image_is_described() -> None:
    assert set(PINNED_IMAGES.values()) == set(IMAGES)


def _program(command: list[str]) -> tuple[str, bool]:
    """The program a health check runs, and whether it needs a shell to run it."""
    kind, *rest = command
    if kind == "CMD-SHELL":
        return shlex.split(rest[0])[0], True
    assert kind == "CMD", command
    return rest[0], False


@pytest.mark.parametrize("name", sorted(set(PINNED_IMAGES) - ONE_SHOT_SERVICES))
def test_every_health_check_runs_a_program_its_image_has(services: dict[str, Any], name: str) -> None:
    """A probe the image cannot run never succeeds: the service never turns healthy, nor do its dependants."""
    image = IMAGES[services[name]["image"]]
    check = services[name].get("healthcheck")
    if not image.programs:
        assert check is None, f"{name}: nothing in {services[name]['image']} can run a health check"
        assert name in WAITED_FOR_BY, f"{name}: needs a one-shot waiter for its dependants"
        return
    assert check, f"{name} has no health check, though its image could run one"
    program, needs_shell = _program(check["test"])
    assert program in image.programs, (
        f"{name}: {program} is not in {services[name]['image']} ({image.read_from})"
    )
    assert image.shell or not needs_shell, f"{name}: CMD-SHELL in an image without a shell"


@pytest.mark.parametrize("name", sorted(WAITED_FOR_BY.values()))
def test_one_shot_waiters_run_what_their_image_has(services: dict[str, Any], name: str) -> None:
    waiter = services[name]
    image = IMAGES[waiter["image"]]
    command = waiter["command"]
    assert command[0] in image.programs and image.shell
    script = command[-1]
    used = {word for word in re.findall(r"(?:^|[;&|(]\s*|do\s+)([a-z]+)\b", script)}
    assert used - {"for", "do", "done", "exit", "sleep", "echo"} <= image.programs, used


def test_api_environment(services: dict[str, Any]) -> None:
    environment = {k: with_defaults(v) for k, v in services["api"]["environment"].items()}
    for key, expected in API_ENVIRONMENT.items():
        assert environment[key] == expected, key
    assert "${SUPPLIERS_JWT_SECRET:?" in services["api"]["environment"]["SUPPLIERS_JWT_SECRET"]
    # The migration job talks to the same database and Redis.
    migrate = {k: with_defaults(v) for k, v in services["migrate"]["environment"].items()}
    assert migrate["DATABASE_URL"] == API_ENVIRONMENT["DATABASE_URL"]
    assert migrate["REDIS_URL"] == API_ENVIRONMENT["REDIS_URL"]


def test_the_api_environment_is_one_the_app_accepts(services: dict[str, Any]) -> None:
    """Every value compose gives the API passes the app's own settings checks; telemetry stays on."""
    from suppliers.settings import Settings

    for service in ("api", "migrate"):
        environment = {k: str(with_defaults(v)) for k, v in services[service]["environment"].items()}
        settings = Settings.from_env(environment)
        assert settings.database_url and settings.redis_url
    api = Settings.from_env({k: str(with_defaults(v)) for k, v in services["api"]["environment"].items()})
    assert not api.otel_sdk_disabled and api.playground
    assert api.otel_traces_exporter == api.otel_metrics_exporter == api.otel_logs_exporter == ("otlp",)


def test_grafana_is_viewable_without_login_and_admin_comes_from_the_environment(
    services: dict[str, Any],
) -> None:
    environment = services["grafana"]["environment"]
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert environment["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert environment["GF_SECURITY_ADMIN_USER"] == "${GF_ADMIN_USER:-admin}"
    assert environment["GF_SECURITY_ADMIN_PASSWORD"] == "${GF_ADMIN_PASSWORD:-admin_password123}"


@pytest.mark.parametrize(
    ("service", "config"), [("otel-collector", "otel-collector.yaml"), ("otel-gateway", "otel-gateway.yaml")]
)
def test_collector_service(services: dict[str, Any], service: str, config: str) -> None:
    collector = services[service]
    assert f"../{config}:/etc/otelcol-contrib/config.yaml:ro" in collector["volumes"]
    assert collector["command"] == ["--config=/etc/otelcol-contrib/config.yaml"]
    assert with_defaults(collector["mem_limit"]) == "512m"


def test_the_gateways_can_scale(services: dict[str, Any]) -> None:
    """`--scale otel-gateway=N` needs no fixed name or host port; DNS lists the replicas."""
    gateway = services["otel-gateway"]
    assert "container_name" not in gateway and "ports" not in gateway
    jobs = {job["job_name"]: job for job in load_yaml(PROMETHEUS_CONFIG)["scrape_configs"]}
    assert jobs["otel-gateway"]["dns_sd_configs"] == [
        {"names": ["otel-gateway"], "type": "A", "port": 8888, "refresh_interval": "30s"}
    ]


def test_prometheus_flags(services: dict[str, Any]) -> None:
    command = services["prometheus"]["command"]
    assert "--web.enable-otlp-receiver" in command
    assert "--enable-feature=exemplar-storage" in command
    assert "--config.file=/etc/prometheus/prometheus.yml" in command


def test_locust_service(services: dict[str, Any]) -> None:
    locust = services["locust"]
    assert "../load:/mnt/load:ro" in locust["volumes"]
    command = locust["command"]
    assert command[command.index("-f") + 1] == "/mnt/load/locustfile.py"
    assert command[command.index("--host") + 1] == "http://balancer:5001"


def test_postgres_creates_the_collector_monitoring_role(services: dict[str, Any]) -> None:
    postgres = services["postgres"]
    assert (
        "./postgres/10-otel-monitor.sh:/docker-entrypoint-initdb.d/10-otel-monitor.sh:ro"
        in postgres["volumes"]
    )
    script = (COMPOSE_DIR / "postgres" / "10-otel-monitor.sh").read_text()
    assert "CREATE ROLE otel_monitor WITH LOGIN" in script
    assert "GRANT pg_monitor TO otel_monitor" in script
    # Same password on both sides.
    assert (
        postgres["environment"]["OTEL_MONITOR_PASSWORD"]
        == services["otel-collector"]["environment"]["OTEL_MONITOR_PASSWORD"]
    )


def test_env_example_documents_every_variable_compose_reads() -> None:
    used = interpolated_variables(COMPOSE_FILE.read_text())
    documented = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    )
    assert {name for name, _, _ in used} == set(documented)
    for name, operator, default in used:
        # The documented value is the default compose falls back to; required ones are left empty.
        assert documented[name] == ("" if operator == "?" else default), name


def test_compose_refuses_to_start_without_a_jwt_secret(services: dict[str, Any]) -> None:
    secret = services["api"]["environment"]["SUPPLIERS_JWT_SECRET"]
    with pytest.raises(KeyError, match=r"compose/\.env"):
        with_defaults(secret, env={})
    assert services["api"]["environment"]["SUPPLIERS_ENVIRONMENT"] == "compose"
