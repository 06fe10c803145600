"""`make bench-faults`: what clients see when PostgreSQL restarts, and when requests outnumber the pool.

Each fault is measured beside a baseline phase in the same invocation, on the same servers:

* restarts: 16 careful clients withdraw (their own transaction id, retried as Retry-After says)
  while PostgreSQL restarts, in `fast` and in `immediate` (crash-like) mode. Reported: how long
  each outage lasted for clients (restart command to the next 201), every status seen, the
  latency of acknowledged withdrawals against the baseline's, and whether the ledger of 201s
  matches the rows in the database (nothing lost, nothing applied twice);
* overload: wrk holds 200 connections on a list route for 10 s against the API as deployed (one
  worker per CPU), with the default pool and with a pool of 2 (timeout 0.2 s): every status with
  its Retry-After, p50 / p99 / max latency.

Memory of the API process is read before and after each phase.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from suppliers.devtools.withdrawals import Audit, CarefulWithdrawals, Ledger, audit, withdrawal_target
from suppliers.embedded.postgres import EmbeddedPostgres

from .environment import (
    STOCK,
    ApiServer,
    prepare_small_data,
    report_dir,
    run_bench,
    start_servers,
    start_sink,
)
from .loadgen import wrk_result

CLIENTS = 16
BASELINE_SECONDS = 6.0
SETTLE_SECONDS = 3.0
BURST_CONNECTIONS = 200
BURST_SECONDS = 10
POOLS: dict[str, dict[str, str]] = {
    "default: 20 + 10 overflow, 1 s timeout": {},
    "2, no overflow, 0.2 s timeout": {
        "SUPPLIERS_DB_POOL_SIZE": "2",
        "SUPPLIERS_DB_MAX_OVERFLOW": "0",
        "SUPPLIERS_DB_POOL_TIMEOUT": "0.2",
    },
}
RESTART_MODES = ("fast", "immediate", "fast", "immediate")


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass(frozen=True)
class Outage:
    mode: str
    restart_took: float  # pg_ctl restart, seconds
    longest_gap: float  # seconds without any 201 from the restart command on
    refused: int  # 503s during it


@dataclass(frozen=True)
class Restarts:
    """What the careful clients saw through the restarts, and what the database says afterwards."""

    outages: list[Outage]
    ledger: Ledger
    baseline_end: float
    audit: Audit
    rss_before: float
    rss_after: float


async def restarts(
    api: ApiServer, postgres: EmbeddedPostgres, database_url: str, tick: Callable[[str], None]
) -> Restarts:
    product, vendor = await withdrawal_target(database_url, stock=STOCK)
    ledger = Ledger()
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=CLIENTS + 4)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30, limits=limits) as http:
        token = (await http.post("/login/token", data={"username": "a", "password": "a"})).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}

        withdrawals = CarefulWithdrawals(http, headers, product, vendor, ledger)
        rss_before = api.rss_mb()
        clients = [asyncio.create_task(withdrawals.repeat_until(stop)) for _ in range(CLIENTS)]
        await asyncio.sleep(BASELINE_SECONDS)
        baseline_end = time.monotonic()
        tick("restarts: baseline done")
        outages: list[Outage] = []
        for mode in RESTART_MODES:
            began, refused_before = time.monotonic(), ledger.statuses[503]
            await asyncio.to_thread(postgres.restart, mode)
            restarted = time.monotonic()
            await asyncio.sleep(SETTLE_SECONDS)
            answered = [began, *sorted(at for at, _ in ledger.served if at > began)]
            longest = max(later - earlier for earlier, later in itertools.pairwise(answered))
            outages.append(Outage(mode, restarted - began, longest, ledger.statuses[503] - refused_before))
            tick(f"restarts: {mode}")
        stop.set()
        await asyncio.wait_for(asyncio.gather(*clients), timeout=60)
        rss_after = api.rss_mb()

    found = await audit(database_url, product, ledger, initial_stock=STOCK)
    return Restarts(outages, ledger, baseline_end, found, rss_before, rss_after)


def restarts_report(measured: Restarts) -> list[str]:
    ledger, found, rss_before, rss_after = (
        measured.ledger,
        measured.audit,
        measured.rss_before,
        measured.rss_after,
    )
    baseline = [took for at, took in ledger.served if at <= measured.baseline_end]
    faulted = [took for at, took in ledger.served if at > measured.baseline_end]
    lines = [
        f"## PostgreSQL restarts under {CLIENTS} retrying clients",
        "",
        "| restart | pg_ctl restart took | longest time without any 201 | 503s during it |",
        "|---|---|---|---|",
        *(
            f"| {o.mode} | {o.restart_took:.2f} s | {o.longest_gap:.2f} s | {o.refused} |"
            for o in measured.outages
        ),
        "",
        f"- statuses: {dict(sorted(ledger.statuses.items()))}; transport errors: {ledger.transport_errors}; "
        f"unexpected answers: {len(ledger.unexpected)}",
        f"- acknowledged withdrawals: {len(ledger.acknowledged)}; lost: {found.lost}; "
        f"applied without a 201: {found.unacknowledged}; applied twice: {found.applied_twice}; "
        f"stock adds up: {found.stock_adds_up}",
        f"- 201 latency, baseline: p50 {1000 * statistics.median(baseline):.1f} ms, "
        f"p99 {1000 * percentile(baseline, 0.99):.1f} ms ({len(baseline)} requests)",
        f"- 201 latency, through the restarts: p50 {1000 * statistics.median(faulted):.1f} ms, "
        f"p99 {1000 * percentile(faulted, 0.99):.1f} ms ({len(faulted)} requests); "
        f"p99 ratio {percentile(faulted, 0.99) / percentile(baseline, 0.99):.1f} x",
        f"- API RSS: {rss_before:.0f} MB before, {rss_after:.0f} MB after "
        f"({100 * (rss_after / rss_before - 1):+.1f} %)",
    ]
    return [*lines, *(f"  - unexpected: {text}" for text in ledger.unexpected[:5])]


def overload(env: dict[str, str], workdir: Path, tick: Callable[[str], None]) -> list[str]:
    lines = [
        f"## {BURST_CONNECTIONS} connections for {BURST_SECONDS} s on GET /transactions?limit=50 "
        "(wrk; the API as deployed: one worker per CPU, telemetry on)",
        "",
        "| pool, per worker | req/s | statuses | p50 | p99 | max | socket errors | API RSS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, pool in POOLS.items():
        api = ApiServer(f"burst-{len(pool)}", {**env, **pool}, workdir).start()
        try:
            token = httpx.post(
                f"{api.base_url}/login/token", data={"username": "a", "password": "a"}, timeout=30
            ).json()["access_token"]
            before = api.rss_mb()
            result = wrk_result(
                api.base_url,
                Path(__file__).with_name("overload.lua"),
                connections=BURST_CONNECTIONS,
                seconds=BURST_SECONDS,
                env={"BENCH_TOKEN": token},
            )
            after = api.rss_mb()
        finally:
            api.stop()
        rps = result["requests"] / (result["duration_us"] / 1e6)
        statuses = ", ".join(f"{key}: {count}" for key, count in sorted(result["statuses"].items()))
        lines.append(
            f"| {name} | {rps:.0f} | {statuses} | {result['p50_us'] / 1000:.0f} ms | "
            f"{result['p99_us'] / 1000:.0f} ms | {result['max_us'] / 1000:.0f} ms | "
            f"{result['socket_errors']} | {before:.0f} → {after:.0f} MB |"
        )
        tick(f"overload: pool {name}")
    return lines


def main() -> int:
    out = report_dir()
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="suppliers-faults-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        servers = start_servers(workdir, stack)
        postgres, database_url, redis_url = servers.postgres, servers.database_url, servers.redis_url
        prepare_small_data(database_url)
        # Telemetry off: what is measured is the service's answer to the fault, not the exporter's.
        env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "OTEL_SDK_DISABLED": "true"}
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
        ) as progress:
            task = progress.add_task("restarts: baseline", total=len(RESTART_MODES) + 3)

            def tick(done: str) -> None:
                progress.update(task, description=done)
                progress.advance(task)

            api = ApiServer("restarts", {**env, "SUPPLIERS_WORKERS": "1"}, workdir).start()
            try:
                report = restarts_report(asyncio.run(restarts(api, postgres, database_url, tick)))
            finally:
                api.stop()
            # Overload as deployed: telemetry on, exporting (to a discarding endpoint: the collector's
            # cost is not the API's).
            sink = start_sink(stack)
            exporting = {**env, "OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": sink.http}
            report += ["", *overload(exporting, workdir, tick)]
    text = "# Faults\n\n" + "\n".join(report) + "\n"
    (out / "faults.md").write_text(text)
    print(text)
    print(f"faults: written to {out / 'faults.md'}")
    return 0


if __name__ == "__main__":
    run_bench(main)
