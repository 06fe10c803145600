"""The stack's OpenTelemetry Collectors on loopback: one agent and gateways it finds through DNS.

One binary (`make tools` builds it), two roles: the agent runs otel-collector.yaml, a gateway
otel-gateway.yaml. Every endpoint in those files reads an environment variable whose default is
the compose value, so tests and benchmarks run the very files compose mounts and only point their
listeners at free loopback ports.

As in compose, the agent asks DNS for `otel-gateway`. Here it runs in a private mount namespace
(`unshare --mount`, root) whose /etc/hosts is a file of ours listing the gateways at 127.0.0.2,
127.0.0.3, … on one port; rewriting that file is how a gateway leaves DNS, the way Docker's DNS
stops listing a stopped container.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from suppliers.devtools.processes import ServerProcess
from suppliers.embedded.postgres import free_port

GATEWAY_NAME = "otel-gateway"  # what the agent resolves (GATEWAY_HOSTNAME's default)


class Collector(ServerProcess):
    """``otelcol --config=<file>`` with its listeners on ``host`` (any 127.x address: gateways found
    in DNS share one OTLP port on several addresses) and its log in ``workdir``."""

    def __init__(
        self,
        binary: Path,
        config: Path,
        workdir: Path,
        env: Mapping[str, str],
        *,
        name: str,
        host: str = "127.0.0.1",
        otlp_grpc_port: int | None = None,
        wrapper: Sequence[str] = (),
    ) -> None:
        """``wrapper``: a command the collector runs under (a private /etc/hosts, for one)."""
        super().__init__(log_path=workdir / f"{name}.log")
        self.what = name
        self.binary = binary
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
        with urllib.request.urlopen(self.telemetry_url, timeout=5) as response:  # noqa: S310 - loopback
            body: bytes = response.read()  # urlopen's response is typed loosely
        return body.decode()


def infra_receivers_on(database_url: str, redis_url: str) -> dict[str, str]:
    """The agent's environment that points its PostgreSQL, Redis and host receivers at these servers
    (the host's own /proc, not a container's /hostfs)."""
    database, cache = urllib.parse.urlsplit(database_url), urllib.parse.urlsplit(redis_url)
    return {
        "POSTGRES_ENDPOINT": f"{database.hostname}:{database.port}",
        "POSTGRES_DB": database.path.lstrip("/"),
        "REDIS_ENDPOINT": f"{cache.hostname}:{cache.port}",
        "HOST_METRICS_ROOT_PATH": "/",
    }


def private_hosts_work() -> bool:
    """Whether this user may give a process its own /etc/hosts (`unshare --mount`: root)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    done = subprocess.run(  # noqa: S603 - a fixed command
        [unshare, "--mount", "--propagation", "private", "true"],
        capture_output=True,
        timeout=10,
        check=False,
    )
    return done.returncode == 0


class GatewayDns:
    """The agent's /etc/hosts: ``otel-gateway`` at every listed address. The agent's file is a bind
    mount of this very inode, so it is rewritten in place, never replaced."""

    def __init__(self, path: Path, addresses: Sequence[str]) -> None:
        self.path = path
        self.listed: list[str] = []
        self.answer(addresses)

    def answer(self, addresses: Sequence[str]) -> None:
        """From now on `otel-gateway` resolves to ``addresses``."""
        self.listed = list(addresses)
        lines = ["127.0.0.1 localhost", *(f"{address} {GATEWAY_NAME}" for address in self.listed)]
        with self.path.open("r+" if self.path.exists() else "w") as hosts:
            hosts.seek(0)
            hosts.write("\n".join(lines) + "\n")
            hosts.truncate()

    def wrapper(self) -> list[str]:
        """Run a command with this file as its /etc/hosts."""
        mount = 'mount --bind "$0" /etc/hosts && exec "$@"'
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", mount, str(self.path)]


class Tier:
    """One agent and named gateways on one OTLP port, at 127.0.0.2, 127.0.0.3, … in that order.

    ``through_dns`` (needs `private_hosts_work()`): the agent finds them as `otel-gateway`, as in
    compose; otherwise it is given the one gateway's address (a single gateway only).
    ``gateways`` maps each gateway's name to its own environment (its backends, its sampling).
    """

    def __init__(
        self,
        binary: Path,
        workdir: Path,
        *,
        agent_config: Path,
        gateway_config: Path,
        agent_env: Mapping[str, str],
        gateways: Mapping[str, Mapping[str, str]],
        through_dns: bool = True,
        agent_name: str = "agent",
    ) -> None:
        if not through_dns and len(gateways) != 1:
            raise ValueError("without DNS the agent can be given one gateway only")
        self.through_dns = through_dns
        port = free_port()
        self.gateways = {
            name: Collector(
                binary,
                gateway_config,
                workdir,
                env,
                name=name,
                host=f"127.0.0.{index + 2}",
                otlp_grpc_port=port,
            )
            for index, (name, env) in enumerate(gateways.items())
        }
        addresses = [gateway.host for gateway in self.gateways.values()]
        self.dns = GatewayDns(workdir / "hosts", addresses)
        routing = {"GATEWAY_OTLP_PORT": str(port)}
        if not through_dns:
            routing["GATEWAY_HOSTNAME"] = addresses[0]
        self.agent = Collector(
            binary,
            agent_config,
            workdir,
            {**agent_env, **routing},
            name=agent_name,
            wrapper=self.dns.wrapper() if through_dns else (),
        )

    def start(self) -> Tier:
        for gateway in self.gateways.values():
            gateway.start()
        self.agent.start()
        return self

    def stop(self) -> None:
        self.agent.stop()
        for gateway in self.gateways.values():
            gateway.stop()

    def collectors(self) -> list[Collector]:
        return [self.agent, *self.gateways.values()]

    def unlist(self, name: str) -> None:
        """Out of DNS: what Docker's DNS does for a stopped container."""
        address = self.gateways[name].host
        self.dns.answer([listed for listed in self.dns.listed if listed != address])

    def relist(self, name: str) -> None:
        address = self.gateways[name].host
        if address not in self.dns.listed:
            self.dns.answer([*self.dns.listed, address])


def metric_sum(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` in Prometheus text whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith((name + "{", name + " ")) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def validate(
    binary: Path, config: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``otelcol validate`` on a configuration file."""
    return subprocess.run(  # noqa: S603 - our own binary and file
        [str(binary), "validate", f"--config={config}"],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def components(binary: Path) -> str:
    """``otelcol components``: what the built distribution contains, as YAML."""
    done = subprocess.run(  # noqa: S603 - our own binary
        [str(binary), "components"], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout
