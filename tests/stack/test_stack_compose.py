"""compose/compose.yaml: valid against the Compose Specification, and internally consistent.

No Docker engine runs here, so the stack is checked as data: the schema (check-jsonschema's
vendored Compose Specification, works offline), then what the schema cannot see -- references
between services, volumes, pinned images, ports, health checks and the files mounted from the repo.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .layout import COMPOSE_DIR, COMPOSE_FILE, DOCKERFILE, ENV_EXAMPLE, REPO_ROOT, load_mapping

# The images the stack is built and tested against (docker-otel-lgtm v0.31.0's set for the
# observability backends). A change here is a deliberate upgrade: re-read that version's config
# reference first.
PINNED_IMAGES = {
    "postgres": "postgres:18.6-trixie",
    "redis": "redis:8.6",
    "migrate": "suppliers-api:local",
    "api": "suppliers-api:local",
    "otel-collector": "otel/opentelemetry-collector-contrib:0.159.0",
    "prometheus": "prom/prometheus:v3.14.0",
    "tempo-init": "busybox:1.37.0",
    "tempo": "grafana/tempo:3.0.3",
    "loki": "grafana/loki:3.7.6",
    "grafana": "grafana/grafana:13.2.0",
    "locust": "locustio/locust:2.46.6",
}

# (service, container port) -> host port, as published with the defaults of .env.example.
REQUIRED_HOST_PORTS = {
    ("api", 5001): 5001,
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

# Images that are one static binary without a shell or any probe tool: Docker cannot run a
# health check inside them (collector: distroless; tempo 3.x: /tempo only).
NO_SHELL_SERVICES = {"otel-collector", "tempo"}
# Run once and exit: `restart: "no"`, waited for with service_completed_successfully.
ONE_SHOT_SERVICES = {"migrate", "tempo-init"}

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

_INTERPOLATION = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def with_defaults(value: Any) -> Any:
    """Resolve ${VAR:-default} the way compose does when VAR is unset."""
    if isinstance(value, str):
        return _INTERPOLATION.sub(lambda m: m.group(2) or "", value)
    return value


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
                assert target in NO_SHELL_SERVICES, f"{name} should wait for {target} to be healthy"


def test_start_order(services: dict[str, Any]) -> None:
    api = services["api"]["depends_on"]
    assert api["migrate"]["condition"] == "service_completed_successfully"
    assert api["postgres"]["condition"] == "service_healthy"
    assert api["redis"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["locust"]["depends_on"]["api"]["condition"] == "service_healthy"
    assert services["tempo"]["depends_on"]["tempo-init"]["condition"] == "service_completed_successfully"


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
    assert "tempo-data:/var/tempo" in mounts("tempo-init")
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


def test_no_host_port_is_published_twice(services: dict[str, Any]) -> None:
    host_ports = [port for s in services.values() for port in _published(s).values()]
    assert len(host_ports) == len(set(host_ports))


def test_services_whose_images_have_a_shell_have_healthchecks(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if name in NO_SHELL_SERVICES:
            # A probe inside these images could never succeed: the service would never be healthy.
            assert "healthcheck" not in service, f"{name} has no shell to run a health check"
        elif name not in ONE_SHOT_SERVICES:
            test = service.get("healthcheck", {}).get("test")
            assert test, f"{name} has no health check"
            assert test[0] in ("CMD", "CMD-SHELL"), name


def test_api_environment(services: dict[str, Any]) -> None:
    environment = {k: with_defaults(v) for k, v in services["api"]["environment"].items()}
    for key, expected in API_ENVIRONMENT.items():
        assert environment[key] == expected, key
    assert environment["SUPPLIERS_JWT_SECRET"], "the JWT secret needs a default"
    assert "${SUPPLIERS_JWT_SECRET" in services["api"]["environment"]["SUPPLIERS_JWT_SECRET"]
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


def test_collector_service(services: dict[str, Any]) -> None:
    collector = services["otel-collector"]
    assert "../otel-collector.yaml:/etc/otelcol-contrib/config.yaml:ro" in collector["volumes"]
    assert collector["command"] == ["--config=/etc/otelcol-contrib/config.yaml"]
    assert with_defaults(collector["mem_limit"]) == "512m"


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
    assert command[command.index("--host") + 1] == "http://api:5001"


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
    used = set(_INTERPOLATION.findall(COMPOSE_FILE.read_text()))
    used_names = {name for name, _ in used}
    documented = {
        line.split("=", 1)[0].strip()
        for line in ENV_EXAMPLE.read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    assert used_names == documented
    # And the documented value is the default compose falls back to.
    defaults = {name: default for name, default in used}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            name, value = line.split("=", 1)
            assert defaults[name.strip()] == value.strip(), name
