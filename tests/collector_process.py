"""The stack's OpenTelemetry Collector, built by `make tools`, running the shipped otel-collector.yaml.

Every endpoint in that file reads an environment variable whose default is the compose value, so
the tests run the very file compose mounts and only point its endpoints at loopback ports.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import httpx

from suppliers.embedded.postgres import free_port
from tests.servers import ServerProcess
from tests.toolchain import REPO_ROOT, require_tool

COLLECTOR_CONFIG = REPO_ROOT / "otel-collector.yaml"


class CollectorProcess(ServerProcess):
    """``otelcol --config=otel-collector.yaml`` with its listeners on free loopback ports."""

    what = "the collector"

    def __init__(self, workdir: Path, env: Mapping[str, str]) -> None:
        super().__init__(log_path=workdir / "otelcol.log")
        self.binary = require_tool("otelcol")
        self.workdir = workdir
        self.otlp_grpc_port, self.otlp_http_port = free_port(), free_port()
        self.health_port, self.telemetry_port = free_port(), free_port()
        self.otlp_http_endpoint = f"http://127.0.0.1:{self.otlp_http_port}"
        self.telemetry_url = f"http://127.0.0.1:{self.telemetry_port}/metrics"
        self._env = {
            **os.environ,
            "COLLECTOR_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{self.otlp_grpc_port}",
            "COLLECTOR_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{self.otlp_http_port}",
            "COLLECTOR_HEALTH_ENDPOINT": f"127.0.0.1:{self.health_port}",
            "COLLECTOR_TELEMETRY_HOST": "127.0.0.1",
            "COLLECTOR_TELEMETRY_PORT": str(self.telemetry_port),
            **env,
        }

    def command(self) -> list[str]:
        return [str(self.binary), f"--config={COLLECTOR_CONFIG}"]

    def ready_url(self) -> str:
        return f"http://127.0.0.1:{self.health_port}/"

    def environment(self) -> Mapping[str, str]:
        return self._env

    def own_metrics(self) -> str:
        """The collector's own telemetry, as Prometheus scrapes it from :8888 in the stack."""
        return httpx.get(self.telemetry_url, timeout=5).text


def validate(env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``otelcol validate`` on the shipped configuration."""
    return subprocess.run(
        [str(require_tool("otelcol")), "validate", f"--config={COLLECTOR_CONFIG}"],
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
