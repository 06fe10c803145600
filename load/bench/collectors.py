"""The stack's collectors as the benchmarks run them: suppliers.devtools.collectors (the same starter
the tests use) with the shipped configuration files, their backends a discarding sink.

The tier is one agent and two gateways found through DNS, as in compose; without `unshare --mount`
(not root) one gateway, given to the agent by address.
"""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from suppliers.devtools.collectors import Collector, Tier, infra_receivers_on, private_hosts_work
from suppliers.embedded.postgres import free_port

from .environment import HERE, REPO_ROOT, Sink

BINARY = REPO_ROOT / ".tools" / "bin" / "otelcol"
AGENT_CONFIG = REPO_ROOT / "otel-collector.yaml"
GATEWAY_CONFIG = REPO_ROOT / "otel-gateway.yaml"
# The infra receivers are not what these benchmarks measure: nothing answers there.
NO_INFRA = {
    "POSTGRES_ENDPOINT": "127.0.0.1:1",
    "REDIS_ENDPOINT": "127.0.0.1:1",
    "HOST_METRICS_ROOT_PATH": "/",
}


def require_binary(what: str) -> None:
    if not BINARY.exists():
        sys.exit(f"{what}: no .tools/bin/otelcol: run `make tools` first")


def start_tier(
    stack: ExitStack,
    workdir: Path,
    *,
    sink: Sink,
    gateways: int = 2,
    gateway_env: dict[str, str] | None = None,
    agent_env: dict[str, str] | None = None,
) -> Tier:
    """An agent and ``gateways`` gateways (one without DNS); ``gateway_env`` goes to every gateway."""
    through_dns = private_hosts_work()
    tier = Tier(
        BINARY,
        workdir,
        agent_config=AGENT_CONFIG,
        gateway_config=GATEWAY_CONFIG,
        agent_env={
            **NO_INFRA,
            "COLLECTOR_METRICS_INTERVAL": "60s",
            "LOKI_OTLP_ENDPOINT": sink.http,
            "PROMETHEUS_OTLP_ENDPOINT": sink.http,
            **(agent_env or {}),
        },
        gateways={
            f"gateway-{n}": {
                "COLLECTOR_METRICS_INTERVAL": "5s",
                "TEMPO_OTLP_ENDPOINT": sink.grpc,
                "PROMETHEUS_OTLP_ENDPOINT": sink.http,
                **(gateway_env or {}),
            }
            for n in range(1, (gateways if through_dns else 1) + 1)
        },
        through_dns=through_dns,
    )
    stack.callback(tier.stop)
    return tier.start()


def start_agent(
    stack: ExitStack, workdir: Path, *, sink: Sink, database_url: str, redis_url: str
) -> Collector:
    """The agent alone, running the shipped otel-collector.yaml with its infra receivers on our
    servers; the sink stands in for the gateways (the agent's cost is what the API's host pays)."""
    gateway_host, gateway_port = sink.grpc.rsplit(":", 1)
    agent = Collector(
        BINARY,
        AGENT_CONFIG,
        workdir,
        {
            **infra_receivers_on(database_url, redis_url),
            "GATEWAY_HOSTNAME": gateway_host,
            "GATEWAY_OTLP_PORT": gateway_port,
            "LOKI_OTLP_ENDPOINT": sink.http,
            "PROMETHEUS_OTLP_ENDPOINT": sink.http,
        },
        name="otelcol",
    )
    stack.callback(agent.stop)
    return agent.start()


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
