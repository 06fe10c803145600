"""What one `GET /metrics` costs: one worker answering from its own registry, beside two workers
answering with both workers' series (telemetry/worker_metrics.py), in one run.

    cd load && PYTHONPATH=. ../.venv/bin/python -m bench.scrape       (BENCH_SCRAPES=50)

Each API is `suppliers serve` on the same embedded PostgreSQL and Redis; the same requests give each
worker its series first (their routes, statuses, pool and process metrics). Then scrapes, one after
another: the median wall time of one, and the CPU the whole server (every worker) spent per scrape.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from suppliers.devtools import usage

from .environment import USER, ApiServer, prepare_data, run_bench, start_servers, start_sink

SCRAPES = int(os.environ.get("BENCH_SCRAPES", "50"))
WARM_REQUESTS = 200


def scrape_cost(api: ApiServer) -> tuple[float, float, int]:
    """(median ms a scrape, CPU ms a scrape, samples in the answer)."""
    token = httpx.post(f"{api.base_url}/login/token", data={"username": USER, "password": USER}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    for _ in range(WARM_REQUESTS):
        with httpx.Client(base_url=api.base_url) as fresh:  # a new connection: any worker may take it
            fresh.get("/vendors?limit=1", headers=headers).raise_for_status()
    answer = httpx.get(f"{api.base_url}/metrics").text
    samples = sum(1 for line in answer.splitlines() if line and not line.startswith("#"))
    walls = []
    before = usage.cpu_seconds(api.pid)
    for _ in range(SCRAPES):
        started = time.perf_counter()
        httpx.get(f"{api.base_url}/metrics").raise_for_status()
        walls.append(time.perf_counter() - started)
    cpu = usage.cpu_seconds(api.pid) - before
    return statistics.median(walls) * 1000, cpu / SCRAPES * 1000, samples


def main() -> int:
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="suppliers-scrape-")))
        started = start_servers(workdir, stack)
        prepare_data(started.database_url)
        base = {
            "DATABASE_URL": started.database_url,
            "REDIS_URL": started.redis_url,
            "OTEL_EXPORTER_OTLP_ENDPOINT": start_sink(stack).http,
        }
        for workers in (1, 2):
            api = ApiServer(f"scrape-{workers}", {**base, "SUPPLIERS_WORKERS": str(workers)}, workdir).start()
            try:
                wall_ms, cpu_ms, samples = scrape_cost(api)
            finally:
                api.stop()
            print(
                f"/metrics, {workers} worker{'s' if workers > 1 else ''}: {samples} samples, "
                f"{wall_ms:.1f} ms a scrape (median of {SCRAPES}), "
                f"{cpu_ms:.1f} ms of CPU a scrape (every worker)"
            )
    return 0


if __name__ == "__main__":
    run_bench(main)
