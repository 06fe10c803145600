"""Entry point of `make bench`. Settings come from the environment (all optional):

    BENCH_SECONDS=10  BENCH_RUNS=3  BENCH_CONNECTIONS=8,32,64  BENCH_RSS_SECONDS=180  BENCH_OUT=reports/bench

The API is measured as it is deployed: `suppliers serve` with its default workers (one per CPU),
telemetry on at 100 % sampling, exporting to the stack's real collector (the shipped
otel-collector.yaml, built by `make tools`; without it, to a discarding OTLP endpoint). Beside it,
in the same invocation: the API with telemetry off, the API with 10 % head sampling (a comparison,
not the default), and pgbench running the same SQL on the same PostgreSQL. Every series is measured
in every run, interleaved, so drift of a noisy machine hits them alike; the figures are medians
over the runs, and what counts are the ratios within one invocation.
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
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import processes
from . import telemetry as telemetry_costs
from .environment import (
    ApiServer,
    Fixture,
    fixture_for,
    prepare_data,
    prepare_pgbench,
    start_collector,
    start_servers,
    start_sink,
)
from .loadgen import Measurement, median_of, pgbench, require, wrk
from .report import Results, Targets, chart, markdown, raw, summary_line

POST_ON = "POST /transactions, telemetry on"
POST_OFF = "POST /transactions, telemetry off"
POST_SAMPLED = "POST /transactions, telemetry on, 10 % of traces sampled"
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

    # First, on a quiet machine: what each piece of telemetry costs beside the SDK's own floor.
    span_rows = telemetry_costs.run(out)
    spans_vs_floor = telemetry_costs.costliest_span_vs_floor(span_rows)

    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="suppliers-bench-")))
        console.print("[bold]bench:[/] starting embedded PostgreSQL and Redis, loading sample data")
        started = start_servers(workdir, stack)
        database_url, redis_url = started.database_url, started.redis_url
        prepare_data(database_url)
        sink = start_sink(stack)
        collector = start_collector(stack, workdir, sink=sink, database_url=database_url, redis_url=redis_url)
        exporting_to = (
            "the real collector" if collector else "a discarding OTLP endpoint (no .tools/bin/otelcol)"
        )
        console.print(f"[bold]bench:[/] telemetry exports to {exporting_to}")
        servers = {"DATABASE_URL": database_url, "REDIS_URL": redis_url}
        telemetry = {
            **servers,
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector or sink.http,
            "OTEL_TRACES_SAMPLER": "always_on",
        }
        apis = {
            "on": ApiServer("telemetry-on", telemetry, workdir),
            "off": ApiServer("telemetry-off", {**servers, "OTEL_SDK_DISABLED": "true"}, workdir),
            "sampled": ApiServer(
                "sampled",
                {
                    **telemetry,
                    "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                    "OTEL_TRACES_SAMPLER_ARG": "0.1",
                },
                workdir,
            ),
        }
        for server in apis.values():
            server.start()
            stack.callback(server.stop)
        on = apis["on"]
        # What `suppliers serve` starts by default: one worker per CPU this process may use.
        workers = int(os.environ.get("SUPPLIERS_WORKERS") or len(os.sched_getaffinity(0)))
        fixture = fixture_for(on, workdir)
        pgbench_binary = prepare_pgbench(database_url, fixture)
        env = wrk_env(fixture)

        def api(server: ApiServer, script: str) -> Callable[[int], Measurement]:
            def measure(c: int) -> Measurement:
                before = processes.cpu_seconds(server.pid)
                measured = wrk(
                    server.base_url, script, connections=c, seconds=seconds, env=env, workdir=workdir
                )
                used = processes.cpu_seconds(server.pid) - before
                requests = measured.rps * seconds
                return replace(measured, cpu_ms=used / requests * 1000 if requests else None)

            return measure

        series: dict[str, Callable[[int], Measurement]] = {
            POST_ON: api(on, "post_transaction.lua"),
            POST_OFF: api(apis["off"], "post_transaction.lua"),
            POST_SAMPLED: api(apis["sampled"], "post_transaction.lua"),
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
            for server in apis.values():
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
    settings = {
        "runs": runs,
        "seconds": seconds,
        "rss_seconds": rss_seconds,
        "workers": workers,
        "exporting_to": exporting_to,
    }
    names = Targets(post_on=POST_ON, post_off=POST_OFF, ceiling=PGBENCH, listing=LIST_ON)
    costs = telemetry_costs.report(span_rows)
    (out / "results.md").write_text(markdown(results, memory, settings, names, costs, spans_vs_floor))
    raw(results, memory, out / "results.json")
    chart(results, out / "chart.png")
    console.print((out / "results.md").read_text())
    console.print(f"reports: {out / 'results.md'}, {out / 'chart.png'}, {out / 'results.json'}")
    print(
        summary_line(
            results,
            memory,
            names,
            workers=workers,
            collector=collector is not None,
            spans_vs_floor=spans_vs_floor,
        )
    )
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
    """RSS (every worker summed) once a second under steady POST load; growth is end over start."""
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
