"""The stack's OpenTelemetry Collectors, built by `make tools`, running the shipped configuration files.

One binary, two roles: the agent (otel-collector.yaml) and a gateway (otel-gateway.yaml). Every
endpoint in those files reads an environment variable whose default is the compose value, so the
tests run the very files compose mounts and only point their endpoints at loopback ports.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from suppliers.embedded.postgres import free_port
from tests.servers import ServerProcess
from tests.toolchain import REPO_ROOT, require_tool

COLLECTOR_CONFIG = REPO_ROOT / "otel-collector.yaml"
GATEWAY_CONFIG = REPO_ROOT / "otel-gateway.yaml"
CONFIGS = (COLLECTOR_CONFIG, GATEWAY_CONFIG)


class CollectorProcess(ServerProcess):
    """``otelcol --config=<file>`` with its listeners on free loopback ports (``host`` may be any
    127.x address: gateways found in DNS share one port on several addresses)."""

    what = "the collector"

    def __init__(
        self,
        workdir: Path,
        env: Mapping[str, str],
        *,
        config: Path = COLLECTOR_CONFIG,
        name: str = "otelcol",
        host: str = "127.0.0.1",
        otlp_grpc_port: int | None = None,
        wrapper: Sequence[str] = (),
    ) -> None:
        """``wrapper``: a command the collector runs under (a private /etc/hosts, for one)."""
        super().__init__(log_path=workdir / f"{name}.log")
        self.what = name
        self.binary = require_tool("otelcol")
        self.workdir = workdir
        self.config = config
        self.host = host
        self.wrapper = list(wrapper)
        self.otlp_grpc_port, self.otlp_http_port = otlp_grpc_port or free_port(), free_port()
        self.health_port, self.telemetry_port = free_port(), free_port()
        self.otlp_http_endpoint = f"http://{host}:{self.otlp_http_port}"
        self.otlp_grpc_endpoint = f"{host}:{self.otlp_grpc_port}"
        self.telemetry_url = f"http://{host}:{self.telemetry_port}/metrics"
        self._env = {
            **os.environ,
            "HOSTNAME": name,
            "COLLECTOR_OTLP_GRPC_ENDPOINT": self.otlp_grpc_endpoint,
            "COLLECTOR_OTLP_HTTP_ENDPOINT": f"{host}:{self.otlp_http_port}",
            "COLLECTOR_HEALTH_ENDPOINT": f"{host}:{self.health_port}",
            "COLLECTOR_TELEMETRY_HOST": host,
            "COLLECTOR_TELEMETRY_PORT": str(self.telemetry_port),
            **env,
        }

    def command(self) -> list[str]:
        return [*self.wrapper, str(self.binary), f"--config={self.config}"]

    def ready_url(self) -> str:
        return f"http://{self.host}:{self.health_port}/"

    def environment(self) -> Mapping[str, str]:
        return self._env

    def own_metrics(self) -> str:
        """The collector's own telemetry, as Prometheus scrapes it from :8888 in the stack."""
        return httpx.get(self.telemetry_url, timeout=5).text


def validate(
    config: Path = COLLECTOR_CONFIG, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``otelcol validate`` on a shipped configuration."""
    return subprocess.run(
        [str(require_tool("otelcol")), "validate", f"--config={config}"],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def components() -> str:
    """``otelcol components``: what the built distribution contains, as YAML."""
    done = subprocess.run(
        [str(require_tool("otelcol")), "components"], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout
