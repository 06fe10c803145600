"""The stack's collectors for the tests: the shipped configuration files and the binary `make tools`
built (suppliers.devtools.collectors runs them; the benchmarks use the same)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from suppliers.devtools import collectors
from suppliers.devtools.collectors import Collector
from tests.toolchain import REPO_ROOT, require_tool

COLLECTOR_CONFIG = REPO_ROOT / "otel-collector.yaml"
GATEWAY_CONFIG = REPO_ROOT / "otel-gateway.yaml"
CONFIGS = (COLLECTOR_CONFIG, GATEWAY_CONFIG)


def collector(
    workdir: Path,
    env: Mapping[str, str],
    *,
    config: Path = COLLECTOR_CONFIG,
    name: str = "otelcol",
    host: str = "127.0.0.1",
    wrapper: Sequence[str] = (),
) -> Collector:
    return Collector(require_tool("otelcol"), config, workdir, env, name=name, host=host, wrapper=wrapper)


def validate(
    config: Path = COLLECTOR_CONFIG, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return collectors.validate(require_tool("otelcol"), config, env)


def components() -> str:
    return collectors.components(require_tool("otelcol"))
