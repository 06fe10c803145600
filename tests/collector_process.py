"""The stack's collectors for the tests: the shipped configuration files, compose's environment for
each role, and the binary `make tools` built (suppliers.devtools.collectors runs them; the
benchmarks use the same)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from suppliers.devtools import collectors
from suppliers.devtools.collectors import Tier, infra_receivers_on
from tests.stack.layout import COLLECTOR_CONFIG, GATEWAY_CONFIG, compose_environment
from tests.toolchain import require_tool

CONFIGS = (COLLECTOR_CONFIG, GATEWAY_CONFIG)


def tier_as_in_compose(
    workdir: Path,
    *,
    database_url: str,
    redis_url: str,
    agent_env: Mapping[str, str],
    gateways: Mapping[str, Mapping[str, str]],
    through_dns: bool = True,
    agent_name: str = "agent",
) -> Tier:
    """The agent and named gateways with compose's environment for their roles, the agent's infra
    receivers on the tests' PostgreSQL and Redis; ``agent_env`` and each gateway's own override it."""
    return Tier(
        require_tool("otelcol"),
        workdir,
        agent_config=COLLECTOR_CONFIG,
        gateway_config=GATEWAY_CONFIG,
        agent_env={
            **compose_environment("otel-collector"),
            **infra_receivers_on(database_url, redis_url),
            **agent_env,
        },
        gateways={name: {**compose_environment("otel-gateway"), **env} for name, env in gateways.items()},
        through_dns=through_dns,
        agent_name=agent_name,
    )


def validate(
    config: Path = COLLECTOR_CONFIG, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return collectors.validate(require_tool("otelcol"), config, env)


def components() -> str:
    return collectors.components(require_tool("otelcol"))
