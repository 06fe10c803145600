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
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from suppliers.devtools import usage

from . import telemetry as telemetry_costs
from .collectors import BINARY, start_agent
from .environment import (
    ApiServer,
    Fixture,
    Servers,
    fixture_for,
    prepare_data,
    prepare_pgbench,
    report_dir,
    run_bench,
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
TARGETS = Targets(post_on=POST_ON, post_off=POST_OFF, ceiling=PGBENCH, listing=LIST_ON)


@dataclass(frozen=True)
class Settings:
    seconds: int
    runs: int
    connections: list[int]
    rss_seconds: int
    out: Path

    @classmethod
    def from_environment(cls) -> Settings:
        return cls(
            seconds=int(os.environ.get("BENCH_SECONDS", "10")),
            runs=int(os.environ.get("BENCH_RUNS", "3")),
            connections=[int(c) for c in os.environ.get("BENCH_CONNECTIONS", "8,32,64").split(",")],
            rss_seconds=int(os.environ.get("BENCH_RSS_SECONDS", "180")),
            out=report_dir(),
        )


@dataclass(frozen=True)
class Measured:
    """Everything one invocation measured, before any of it is formatted."""

    results: Results
    memory: dict[str, float]
    workers: int
    destination: Destination


Series = dict[str, Callable[[int], Measurement]]


def main() -> int:
    settings = Settings.from_environment()
    require("wrk", "install it with `apt-get install wrk` (the benchmark's load generator)")
    console = Console(stderr=True)
    # First, on a quiet machine: what each piece of telemetry costs beside the SDK's own floor.
    span_rows = telemetry_costs.run(settings.out)
    measured = measure(settings, console)
    write_reports(settings, measured, span_rows, console)
    return verdict(measured, console)


def measure(settings: Settings, console: Console) -> Measured:
    """Servers up, every series measured in every run (interleaved), then the memory soak."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="suppliers-bench-")))
        console.print("[bold]bench:[/] starting embedded PostgreSQL and Redis, loading sample data")
        servers = start_servers(workdir, stack)
        prepare_data(servers.database_url)
        destination = telemetry_destination(stack, workdir, servers)
        console.print(f"[bold]bench:[/] telemetry exports to {destination}")
        apis = start_apis(stack, workdir, servers, destination.endpoint)
        fixture = fixture_for(apis["on"], workdir)
        env = wrk_env(fixture)
        series = plan(apis, fixture, servers.database_url, env, settings, workdir)
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task(
                "warming up", total=settings.runs * len(settings.connections) * len(series) + 1
            )
            for server in apis.values():
                wrk(
                    server.base_url,
                    "post_transaction.lua",
                    connections=32,
                    seconds=WARM_UP_SECONDS,
                    env=env,
                    workdir=workdir,
                )
            collected = run_series(series, settings, progress, task)
            progress.update(task, description=f"memory: {settings.rss_seconds} s of POST load @ 32")
            memory = measure_memory(apis["on"], env, workdir, settings.rss_seconds)
            progress.advance(task)
    return Measured(
        results={name: {c: median_of(ms) for c, ms in by.items()} for name, by in collected.items()},
        memory=memory,
        # What `suppliers serve` starts by default: one worker per CPU this process may use.
        workers=int(os.environ.get("SUPPLIERS_WORKERS") or len(os.sched_getaffinity(0))),
        destination=destination,
    )


@dataclass(frozen=True)
class Destination:
    """Where the API exports telemetry: an OTLP/HTTP base URL, the stack's agent or not."""

    endpoint: str
    agent: bool

    def __str__(self) -> str:
        return "the real collector" if self.agent else "a discarding OTLP endpoint (no .tools/bin/otelcol)"


def telemetry_destination(stack: ExitStack, workdir: Path, servers: Servers) -> Destination:
    """The stack's real agent when `make tools` built it (its own exporters to a discarding
    endpoint), otherwise the discarding endpoint itself."""
    sink = start_sink(stack)
    if not BINARY.exists():
        return Destination(sink.http, agent=False)
    agent = start_agent(
        stack, workdir, sink=sink, database_url=servers.database_url, redis_url=servers.redis_url
    )
    return Destination(agent.otlp_http_endpoint, agent=True)


def start_apis(stack: ExitStack, workdir: Path, servers: Servers, endpoint: str) -> dict[str, ApiServer]:
    """The API three ways: telemetry on (every trace), off, and on with 10 % of traces sampled."""
    own = {"DATABASE_URL": servers.database_url, "REDIS_URL": servers.redis_url}
    telemetry = {**own, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_TRACES_SAMPLER": "always_on"}
    sampled = {
        **telemetry,
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
    }
    apis = {
        "on": ApiServer("telemetry-on", telemetry, workdir),
        "off": ApiServer("telemetry-off", {**own, "OTEL_SDK_DISABLED": "true"}, workdir),
        "sampled": ApiServer("sampled", sampled, workdir),
    }
    for server in apis.values():
        stack.callback(server.stop)
        server.start()
    return apis


def plan(
    apis: dict[str, ApiServer],
    fixture: Fixture,
    database_url: str,
    env: dict[str, str],
    settings: Settings,
    workdir: Path,
) -> Series:
    """Each series: how one measurement at ``c`` connections is taken."""
    pgbench_binary = prepare_pgbench(database_url, fixture)

    def api(server: ApiServer, script: str) -> Callable[[int], Measurement]:
        def measure_at(c: int) -> Measurement:
            before = usage.cpu_seconds(server.pid)
            measured = wrk(
                server.base_url, script, connections=c, seconds=settings.seconds, env=env, workdir=workdir
            )
            used = usage.cpu_seconds(server.pid) - before
            requests = measured.rps * settings.seconds
            return replace(measured, cpu_ms=used / requests * 1000 if requests else None)

        return measure_at

    return {
        POST_ON: api(apis["on"], "post_transaction.lua"),
        POST_OFF: api(apis["off"], "post_transaction.lua"),
        POST_SAMPLED: api(apis["sampled"], "post_transaction.lua"),
        LIST_ON: api(apis["on"], "get_products.lua"),
        ONE_ON: api(apis["on"], "get_product.lua"),
        PGBENCH: lambda c: pgbench(
            pgbench_binary,
            database_url,
            clients=c,
            seconds=settings.seconds,
            variables={"products": str(fixture.product_count), "vendor": fixture.vendor_id},
        ),
    }


def run_series(
    series: Series, settings: Settings, progress: Progress, task: TaskID
) -> dict[str, dict[int, list[Measurement]]]:
    """Run after run, every series at every connection count in turn: a noisy machine's drift hits
    all of them alike."""
    collected: dict[str, dict[int, list[Measurement]]] = {
        name: {c: [] for c in settings.connections} for name in series
    }
    for run in range(1, settings.runs + 1):
        for c in settings.connections:
            for name, measure_at in series.items():
                progress.update(task, description=f"run {run}/{settings.runs}: {name} @ {c}")
                collected[name][c].append(measure_at(c))
                progress.advance(task)
    return collected


def write_reports(
    settings: Settings, measured: Measured, span_rows: list[telemetry_costs.Row], console: Console
) -> None:
    spans_vs_floor = telemetry_costs.costliest_span_vs_floor(span_rows)
    described = {
        "runs": settings.runs,
        "seconds": settings.seconds,
        "rss_seconds": settings.rss_seconds,
        "workers": measured.workers,
        "exporting_to": str(measured.destination),
    }
    out, results, memory = settings.out, measured.results, measured.memory
    costs = telemetry_costs.report(span_rows)
    (out / "results.md").write_text(markdown(results, memory, described, TARGETS, costs, spans_vs_floor))
    raw(results, memory, out / "results.json")
    chart(results, out / "chart.png")
    console.print((out / "results.md").read_text())
    console.print(f"reports: {out / 'results.md'}, {out / 'chart.png'}, {out / 'results.json'}")
    print(
        summary_line(
            results,
            memory,
            TARGETS,
            workers=measured.workers,
            collector=measured.destination.agent,
            spans_vs_floor=spans_vs_floor,
        )
    )


def verdict(measured: Measured, console: Console) -> int:
    """Figures taken with failed requests are not figures: the run fails."""
    failed = [(n, c) for n, by in measured.results.items() for c, m in by.items() if m.non_2xx or m.errors]
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
    run_bench(main)
