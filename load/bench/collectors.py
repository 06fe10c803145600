"""The stack's two collector tiers for the benchmarks: one agent, gateways found through DNS.

The agent runs the shipped otel-collector.yaml and the gateways otel-gateway.yaml (`make tools`
builds the binary), their backends a discarding sink. As in compose, the agent asks DNS for
`otel-gateway`: it runs in a private mount namespace whose /etc/hosts (a file here, rewritten in
place) lists the gateways at 127.0.0.2, 127.0.0.3, … on one port. Without `unshare --mount` (not
root) there is one gateway, reached by address.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from suppliers.embedded.postgres import free_port

from . import processes
from .environment import HERE, REPO_ROOT, start_server

BINARY = REPO_ROOT / ".tools" / "bin" / "otelcol"
AGENT_CONFIG = REPO_ROOT / "otel-collector.yaml"
GATEWAY_CONFIG = REPO_ROOT / "otel-gateway.yaml"


def private_hosts_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    done = subprocess.run(["unshare", "--mount", "true"], capture_output=True, timeout=10, check=False)
    return done.returncode == 0


@dataclass
class Collector:
    """One otelcol process: its listeners on ``address``, its log in the work directory."""

    name: str
    config: Path
    address: str
    env: dict[str, str]
    log_path: Path
    wrapper: list[str] = field(default_factory=list)
    otlp_grpc_port: int = field(default_factory=free_port)
    otlp_http_port: int = field(default_factory=free_port)
    health_port: int = field(default_factory=free_port)
    telemetry_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Collector:
        env = {
            **os.environ,
            "HOSTNAME": self.name,
            "COLLECTOR_OTLP_GRPC_ENDPOINT": f"{self.address}:{self.otlp_grpc_port}",
            "COLLECTOR_OTLP_HTTP_ENDPOINT": f"{self.address}:{self.otlp_http_port}",
            "COLLECTOR_HEALTH_ENDPOINT": f"{self.address}:{self.health_port}",
            "COLLECTOR_TELEMETRY_HOST": self.address,
            "COLLECTOR_TELEMETRY_PORT": str(self.telemetry_port),
            **self.env,
        }
        self.process = start_server(
            [*self.wrapper, str(BINARY), f"--config={self.config}"],
            env=env,
            log_path=self.log_path,
            ready_url=f"http://{self.address}:{self.health_port}/",
            what=self.name,
        )
        return self

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None:
            return
        self.process.kill() if kill else self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} is not running"
        return self.process.pid

    def metrics(self) -> str:
        return httpx.get(f"http://{self.address}:{self.telemetry_port}/metrics", timeout=5).text

    def cpu_seconds(self) -> float:
        return processes.cpu_seconds(self.pid)

    def rss_mb(self) -> float:
        return processes.rss_mb(self.pid)

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")


def counter(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` in Prometheus text whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith((name + "{", name + " ")) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


class SlowGateway:
    """In a gateway's place (its address and OTLP port): a receiver that answers every export late."""

    def __init__(self, address: str, port: int, delay: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "otlp_sink.py"), str(free_port()), str(port), address, str(delay)],
            stdin=subprocess.DEVNULL,
        )
        time.sleep(1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class Tier:
    """An agent and ``gateways`` gateways; ``extra_env`` goes to every gateway (sampling settings)."""

    def __init__(
        self,
        stack: ExitStack,
        workdir: Path,
        *,
        sink_grpc: str,
        sink_http: str,
        gateways: int = 2,
        gateway_env: dict[str, str] | None = None,
        agent_env: dict[str, str] | None = None,
    ) -> None:
        self.dns = private_hosts_work()
        count = gateways if self.dns else 1
        self.hosts = workdir / "hosts"
        self.gateway_port = free_port()
        backends = {"TEMPO_OTLP_ENDPOINT": sink_grpc, "PROMETHEUS_OTLP_ENDPOINT": sink_http}
        self.gateways = [
            Collector(
                f"gateway-{index + 1}",
                GATEWAY_CONFIG,
                f"127.0.0.{index + 2}",
                {"COLLECTOR_METRICS_INTERVAL": "5s", **backends, **(gateway_env or {})},
                workdir / f"gateway-{index + 1}.log",
                otlp_grpc_port=self.gateway_port,
            )
            for index in range(count)
        ]
        self.listed = [gateway.address for gateway in self.gateways]
        self.write_hosts()
        routing = (
            {"GATEWAY_OTLP_PORT": str(self.gateway_port)}
            if self.dns
            else {"GATEWAY_HOSTNAME": self.gateways[0].address, "GATEWAY_OTLP_PORT": str(self.gateway_port)}
        )
        wrapper = (
            ["unshare", "--mount", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', str(self.hosts)]
            if self.dns
            else []
        )
        self.agent = Collector(
            "agent",
            AGENT_CONFIG,
            "127.0.0.1",
            {
                "HOST_METRICS_ROOT_PATH": "/",
                "POSTGRES_ENDPOINT": "127.0.0.1:1",  # the infra receivers are not what is measured
                "REDIS_ENDPOINT": "127.0.0.1:1",
                "COLLECTOR_METRICS_INTERVAL": "60s",
                "LOKI_OTLP_ENDPOINT": sink_http,
                "PROMETHEUS_OTLP_ENDPOINT": sink_http,
                **routing,
                **(agent_env or {}),
            },
            workdir / "agent.log",
            wrapper=wrapper,
        )
        for gateway in self.gateways:
            gateway.start()
            stack.callback(gateway.stop)
        self.agent.start()
        stack.callback(self.agent.stop)

    @property
    def otlp_http(self) -> str:
        return f"http://127.0.0.1:{self.agent.otlp_http_port}"

    def write_hosts(self) -> None:
        """What Docker's DNS answers for `otel-gateway`: every listed replica (rewritten in place)."""
        lines = ["127.0.0.1 localhost", *(f"{address} otel-gateway" for address in self.listed)]
        with self.hosts.open("r+" if self.hosts.exists() else "w") as hosts:
            hosts.seek(0)
            hosts.write("\n".join(lines) + "\n")
            hosts.truncate()

    def collectors(self) -> list[Collector]:
        return [self.agent, *self.gateways]
