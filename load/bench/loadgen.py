"""The two load generators: wrk against the API, pgbench against PostgreSQL. Both light on CPU."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Measurement:
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int
    errors: int
    cpu_ms: float | None = None
    """CPU (user + system) the API's processes spent per request; None where it is not the API."""


def median_of(runs: list[Measurement]) -> Measurement:
    """Each figure is the median over the runs, taken separately (robust to one noisy run)."""
    cpu = [r.cpu_ms for r in runs if r.cpu_ms is not None]
    return Measurement(
        rps=statistics.median(r.rps for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p90_ms=statistics.median(r.p90_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        non_2xx=sum(r.non_2xx for r in runs),
        errors=sum(r.errors for r in runs),
        cpu_ms=statistics.median(cpu) if cpu else None,
    )


def require(tool: str, install: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise SystemExit(f"bench: {tool} is missing; {install}")
    return path


def wrk_result(
    base_url: str, script: Path, *, connections: int, seconds: int, env: dict[str, str]
) -> dict[str, Any]:
    """Run wrk with ``script``, whose done() prints one ``BENCH_RESULT {json}`` line: that object."""
    output = subprocess.run(
        [
            require("wrk", "install it with `apt-get install wrk`"),
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            base_url,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=True,
    ).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH_RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
    return result


def wrk(
    base_url: str, script: str, *, connections: int, seconds: int, env: dict[str, str], workdir: Path
) -> Measurement:
    """Run one wrk script (plus done.lua, which prints the figures as JSON) and read its result."""
    combined = workdir / f"{Path(script).stem}.combined.lua"
    combined.write_text((HERE / script).read_text() + "\n" + (HERE / "done.lua").read_text())
    result = wrk_result(base_url, combined, connections=connections, seconds=seconds, env=env)
    return Measurement(
        rps=result["requests"] / (result["duration_us"] / 1e6),
        p50_ms=result["p50_us"] / 1000,
        p90_ms=result["p90_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        non_2xx=result["non_2xx"],
        errors=result["socket_errors"],
    )


def pgbench(
    binary: Path, database_url: str, *, clients: int, seconds: int, variables: dict[str, str]
) -> Measurement:
    """Run withdrawal.sql; percentiles come from pgbench's per-transaction log (latency in µs)."""
    with tempfile.TemporaryDirectory(prefix="pgbench-") as logs:
        completed = subprocess.run(
            [
                str(binary),
                "--no-vacuum",
                "--protocol=prepared",
                f"--client={clients}",
                "--jobs=2",
                f"--time={seconds}",
                f"--file={HERE / 'withdrawal.sql'}",
                "--log",
                f"--log-prefix={Path(logs) / 'tx'}",
                *(f"--define={name}={value}" for name, value in variables.items()),
                database_url,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        latencies = sorted(
            int(line.split()[2]) for log in Path(logs).glob("tx*") for line in log.read_text().splitlines()
        )
    failed = int(_after(completed.stdout, "number of failed transactions:") or 0)
    tps = float(_after(completed.stdout, "tps =") or 0)

    def percentile(share: float) -> float:
        return latencies[min(len(latencies) - 1, int(share * len(latencies)))] / 1000

    return Measurement(
        rps=tps,
        p50_ms=percentile(0.5),
        p90_ms=percentile(0.9),
        p99_ms=percentile(0.99),
        non_2xx=failed,
        errors=0,
    )


def _after(text: str, label: str) -> str | None:
    for line in text.splitlines():
        if line.strip().startswith(label):
            return line.split(label, 1)[1].split()[0]
    return None
