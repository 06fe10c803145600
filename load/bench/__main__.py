"""Entry point of `make bench`. Settings come from the environment (all optional):

    BENCH_SECONDS=10  BENCH_RUNS=3  BENCH_CONNECTIONS=8,32,64  BENCH_RSS_SECONDS=180  BENCH_OUT=reports/bench

Every series is measured in every run, interleaved, so drift of a noisy machine hits them alike; the
figures are medians over the runs, and what counts are the ratios within one invocation.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .environment import (
    ApiServer,
    Fixture,
    fixture_for,
    prepare_data,
    prepare_pgbench,
    start_servers,
    start_sink,
)
from .loadgen import Measurement, median_of, pgbench, require, wrk
from .report import Results, chart, markdown, raw, summary_line

POST_ON = "POST /transactions, telemetry on"
POST_OFF = "POST /transactions, telemetry off"
LIST_ON = "GET /products?limit=100, telemetry on"
ONE_ON = "GET /products/{id}, telemetry on"
PGBENCH = "pgbench, same SQL"
WARM_UP_SECONDS = 5
RSS_WARM_UP_SECONDS = 30


def main() -> int:
    seconds = int(os.environ.get("BENCH_SECONDS", "10"))
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    connections = [int(c) for c in os.environ.get("BENCH_CONNECTIONS", "8,32,64").split(",")]
    rss_seconds = int(os.environ.get("BENCH_RSS_SECONDS", "180"))
    out = Path(os.environ.get("BENCH_OUT", "reports/bench")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    require("wrk", "install it with `apt-get install wrk` (the benchmark's load generator)")
    console = Console(stderr=True)

    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="suppliers-bench-")))
        console.print("[bold]bench:[/] starting embedded PostgreSQL and Redis, loading sample data")
        database_url, redis_url = start_servers(workdir, stack)
        prepare_data(database_url)
        sink = start_sink(stack)
        servers = {"DATABASE_URL": database_url, "REDIS_URL": redis_url}
        on = ApiServer(
            "telemetry-on",
            {**servers, "OTEL_EXPORTER_OTLP_ENDPOINT": sink, "OTEL_TRACES_SAMPLER": "always_on"},
            workdir,
        ).start()
        stack.callback(on.stop)
        off = ApiServer("telemetry-off", {**servers, "OTEL_SDK_DISABLED": "true"}, workdir).start()
        stack.callback(off.stop)
        fixture = fixture_for(on, workdir)
        pgbench_binary = prepare_pgbench(database_url, fixture)
        env = wrk_env(fixture)

        def api(server: ApiServer, script: str) -> Callable[[int], Measurement]:
            return lambda c: wrk(
                server.base_url, script, connections=c, seconds=seconds, env=env, workdir=workdir
            )

        series: dict[str, Callable[[int], Measurement]] = {
            POST_ON: api(on, "post_transaction.lua"),
            POST_OFF: api(off, "post_transaction.lua"),
            LIST_ON: api(on, "get_products.lua"),
            ONE_ON: api(on, "get_product.lua"),
            PGBENCH: lambda c: pgbench(
                pgbench_binary,
                database_url,
                clients=c,
                seconds=seconds,
                variables={"products": str(fixture.product_count), "vendor": fixture.vendor_id},
            ),
        }
        collected: dict[str, dict[int, list[Measurement]]] = {
            name: {c: [] for c in connections} for name in series
        }
        steps = runs * len(connections) * len(series)
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("warming up", total=steps + 1)
            for server in (on, off):
                wrk(
                    server.base_url,
                    "post_transaction.lua",
                    connections=32,
                    seconds=WARM_UP_SECONDS,
                    env=env,
                    workdir=workdir,
                )
            for run in range(1, runs + 1):
                for c in connections:
                    for name, measure in series.items():
                        progress.update(task, description=f"run {run}/{runs}: {name} @ {c}")
                        collected[name][c].append(measure(c))
                        progress.advance(task)
            progress.update(task, description=f"memory: {rss_seconds} s of POST load @ 32")
            memory = measure_memory(on, env, workdir, rss_seconds)
            progress.advance(task)

    results: Results = {name: {c: median_of(ms) for c, ms in by.items()} for name, by in collected.items()}
    settings = {"runs": runs, "seconds": seconds, "rss_seconds": rss_seconds}
    (out / "results.md").write_text(markdown(results, memory, settings))
    raw(results, memory, out / "results.json")
    chart(results, out / "chart.png")
    console.print((out / "results.md").read_text())
    console.print(f"reports: {out / 'results.md'}, {out / 'chart.png'}, {out / 'results.json'}")
    print(summary_line(results, memory, on=POST_ON, off=POST_OFF, ceiling=PGBENCH))
    failed = [(n, c) for n, by in results.items() for c, m in by.items() if m.non_2xx or m.errors]
    if failed:
        console.print(f"[red]bench: non-2xx responses or socket errors in {failed}: figures are not valid")
        return 1
    return 0


def wrk_env(fixture: Fixture) -> dict[str, str]:
    return {
        "BENCH_TOKEN": fixture.token,
        "BENCH_VENDOR": fixture.vendor_id,
        "BENCH_PRODUCTS": str(fixture.products_file),
    }


def measure_memory(api: ApiServer, env: dict[str, str], workdir: Path, seconds: int) -> dict[str, float]:
    """RSS once a second under steady POST load; 'start' is after the warm-up, growth is end/start."""
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        began = time.monotonic()
        while not stop.wait(1.0):
            samples.append((time.monotonic() - began, api.rss_mb()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        wrk(api.base_url, "post_transaction.lua", connections=32, seconds=seconds, env=env, workdir=workdir)
    finally:
        stop.set()
        sampler.join()
    warm = [rss for at, rss in samples if at >= min(RSS_WARM_UP_SECONDS, seconds / 6)] or [
        s[1] for s in samples
    ]
    start = statistics.median(warm[:5])
    end = statistics.median(warm[-5:])
    return {"start_mb": start, "peak_mb": max(warm), "end_mb": end, "growth": end / start - 1}


if __name__ == "__main__":
    sys.exit(main())
