"""A real Prometheus for the tests: the release compose pins, built by `make tools`.

Two ways to start it: scraping the API's /metrics with a configuration of its own (``scraping``),
or as the stack runs it, with compose's flags and a given configuration file (``as_in_compose``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from suppliers.devtools.processes import ServerProcess
from suppliers.embedded.postgres import free_port
from tests.toolchain import require_tool

# The API's environment when a Prometheus scrapes it: telemetry on, nothing pushed over OTLP.
SCRAPED_API = {
    "OTEL_SDK_DISABLED": "false",
    "OTEL_TRACES_EXPORTER": "none",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
}


class PrometheusServer(ServerProcess):
    """A Prometheus process on a free loopback port, with its data under ``workdir``."""

    what = "prometheus"

    def __init__(
        self, workdir: Path, *, config: dict[str, Any], flags: Sequence[str] = (), port: int | None = None
    ) -> None:
        super().__init__(log_path=workdir / "prometheus.log")
        self.binary = require_tool("prometheus")
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self._flags = list(flags)

    @classmethod
    def scraping(
        cls,
        workdir: Path,
        *,
        targets: Sequence[str],
        job: str = "suppliers-api",
        scrape_interval: str = "1s",
    ) -> PrometheusServer:
        """Scrapes ``targets`` every ``scrape_interval`` as job ``job``, with exemplars kept."""
        config = {
            "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": list(targets)}]}],
        }
        return cls(workdir, config=config, flags=["--enable-feature=exemplar-storage"])

    @classmethod
    def as_in_compose(
        cls, workdir: Path, *, config: dict[str, Any], command: Sequence[str], port: int
    ) -> PrometheusServer:
        """With the flags of compose's ``command`` (paths moved into ``workdir``) and ``config``."""
        container_paths = ("--config.file=", "--storage.tsdb.path=", "--web.listen-address=")
        flags = [flag for flag in command if not flag.startswith(container_paths)]
        return cls(workdir, config=config, flags=flags, port=port)

    def command(self) -> list[str]:
        return [
            str(self.binary),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            *self._flags,
        ]

    def ready_url(self) -> str:
        return f"{self.url}/-/ready"

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result vector; raises with Prometheus' own message on a bad query."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            raise AssertionError(f"{expr}: {body.get('errorType')}: {body.get('error')}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result if isinstance(result, list) else [{"value": result}]

    def exemplars(self, expr: str, *, since: float) -> list[dict[str, Any]]:
        """Exemplars of the series ``expr`` selects, from ``since`` (Unix time) until now."""
        response = httpx.get(
            f"{self.url}/api/v1/query_exemplars",
            params={"query": expr, "start": since, "end": time.time()},
            timeout=10,
        )
        body = response.json()
        assert body.get("status") == "success", body
        return [exemplar for series in body["data"] for exemplar in series["exemplars"]]

    def wait_for(self, expr: str, *, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.query(expr)
            if result:
                return result
            time.sleep(0.25)
        raise AssertionError(f"{expr} returned nothing within {timeout:.0f} s")
