"""A real Prometheus for the tests (Debian's `prometheus` package), scraping the API's /metrics.

Without the binary the tests that need it are skipped with the command that installs it, except
under CI (CI=true), where .ci/run installs it and a missing binary is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from suppliers.embedded.postgres import free_port
from tests.servers import start_and_wait, stop_process

PROMETHEUS = shutil.which("prometheus")

# The API's environment when a Prometheus scrapes it: telemetry on, nothing pushed over OTLP.
SCRAPED_API = {
    "OTEL_SDK_DISABLED": "false",
    "OTEL_TRACES_EXPORTER": "none",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
}


def require_prometheus() -> str:
    if PROMETHEUS is None:
        why = "the prometheus binary is missing (apt-get install prometheus; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return PROMETHEUS


class PrometheusServer:
    """Scrapes ``targets`` every ``scrape_interval`` as job ``job``; evaluates ``rule_files`` as often."""

    def __init__(
        self,
        workdir: Path,
        *,
        targets: Sequence[str],
        job: str = "suppliers-api",
        scrape_interval: str = "1s",
        rule_files: Sequence[Path] = (),
    ) -> None:
        self.binary = require_prometheus()
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
            "rule_files": [str(path) for path in rule_files],
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": list(targets)}]}],
        }
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config))
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> PrometheusServer:
        command = [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--enable-feature=exemplar-storage",
        ]
        self._process = start_and_wait(
            command,
            log_path=self.workdir / "prometheus.log",
            ready_url=f"{self.url}/-/ready",
            what="prometheus",
        )
        return self

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process)
            self._process = None

    def log(self) -> str:
        return (self.workdir / "prometheus.log").read_text(errors="replace")

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result vector; raises with Prometheus' own message on a bad query."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            raise AssertionError(f"{expr}: {body.get('errorType')}: {body.get('error')}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result if isinstance(result, list) else [{"value": result}]

    def wait_for(self, expr: str, *, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.query(expr)
            if result:
                return result
            time.sleep(0.25)
        raise AssertionError(f"{expr} returned nothing within {timeout:.0f} s")
