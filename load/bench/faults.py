"""`make bench-faults`: what clients see when PostgreSQL restarts, and when requests outnumber the pool.

Each fault is measured beside a baseline phase in the same invocation, on the same servers:

* restarts: 16 careful clients withdraw (their own transaction id, retried as Retry-After says)
  while PostgreSQL restarts, in `fast` and in `immediate` (crash-like) mode. Reported: how long
  each outage lasted for clients (restart command to the next 201), every status seen, the
  latency of acknowledged withdrawals against the baseline's, and whether the ledger of 201s
  matches the rows in the database (nothing lost, nothing applied twice);
* overload: 200 connections against a pool of 2 (timeout 0.2 s), 600 list requests, against the
  same burst with the default pool: statuses, how long a shed (503 busy) request waited, the
  p99 of served ones.

Memory of the API process is read before and after each phase.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from suppliers.data.seeding import ensure_demo_users, generate
from suppliers.db.migrations import upgrade
from suppliers.embedded.postgres import EmbeddedPostgres

from .environment import ApiServer, start_servers

CLIENTS = 16
BASELINE_SECONDS = 6.0
SETTLE_SECONDS = 3.0
BURST = 600
BURST_CONNECTIONS = 200
RESTART_MODES = ("fast", "immediate", "fast", "immediate")


@dataclass
class Ledger:
    acknowledged: set[uuid.UUID] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    # (when it was answered, seconds it took) of every 201
    served: list[tuple[float, float]] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _withdraw(
    http: httpx.AsyncClient, headers: dict[str, str], body: dict[str, str | int], ledger: Ledger
) -> None:
    while True:
        started = time.monotonic()
        try:
            response = await http.post("/transactions", json=body, headers=headers)
        except httpx.TransportError:
            ledger.transport_errors += 1
            await asyncio.sleep(0.2)
            continue
        ledger.statuses[response.status_code] += 1
        if response.status_code == 201:
            ledger.acknowledged.add(uuid.UUID(str(body["id"])))
            ledger.served.append((time.monotonic(), time.monotonic() - started))
            return
        if response.status_code != 503 or "retry-after" not in response.headers:
            ledger.unexpected.append(f"{response.status_code} {response.text[:200]}")
            return
        await asyncio.sleep(min(float(response.headers["retry-after"]), 0.5))


async def restarts(
    api: ApiServer, postgres: EmbeddedPostgres, database_url: str, tick: Callable[[str], None]
) -> list[str]:
    product, vendor = await _product_and_vendor(database_url)
    ledger = Ledger()
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=CLIENTS + 4)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30, limits=limits) as http:
        token = (await http.post("/login/token", data={"username": "a", "password": "a"})).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}

        async def client() -> None:
            while not stop.is_set():
                body: dict[str, str | int] = {
                    "id": str(uuid.uuid4()),
                    "product_id": str(product),
                    "vendor_id": str(vendor),
                    "action": "withdrawal",
                    "quantity": 1,
                }
                await _withdraw(http, headers, body, ledger)

        rss_before = api.rss_mb()
        clients = [asyncio.create_task(client()) for _ in range(CLIENTS)]
        await asyncio.sleep(BASELINE_SECONDS)
        baseline_end = time.monotonic()
        tick("restarts: baseline done")
        outages: list[tuple[str, float, float]] = []
        for mode in RESTART_MODES:
            began = time.monotonic()
            await asyncio.to_thread(postgres.restart, mode)
            restarted = time.monotonic()
            await asyncio.sleep(SETTLE_SECONDS)
            after = [at for at, _ in ledger.served if at > began]
            outages.append((mode, restarted - began, (min(after) - began) if after else float("inf")))
            tick(f"restarts: {mode}")
        stop.set()
        await asyncio.wait_for(asyncio.gather(*clients), timeout=60)
        rss_after = api.rss_mb()

    baseline = [took for at, took in ledger.served if at <= baseline_end]
    faulted = [took for at, took in ledger.served if at > baseline_end]
    lost, doubled = await _audit(database_url, product, ledger)
    lines = [
        f"## PostgreSQL restarts under {CLIENTS} retrying clients",
        "",
        "| restart | pg_ctl restart took | clients without a 201 (restart command → next 201) |",
        "|---|---|---|",
        *(f"| {mode} | {took:.2f} s | {gap:.2f} s |" for mode, took, gap in outages),
        "",
        f"- statuses: {dict(sorted(ledger.statuses.items()))}; transport errors: {ledger.transport_errors}; "
        f"unexpected answers: {len(ledger.unexpected)}",
        f"- acknowledged withdrawals: {len(ledger.acknowledged)}; lost: {lost}; applied twice: {doubled}",
        f"- 201 latency, baseline: p50 {1000 * statistics.median(baseline):.1f} ms, "
        f"p99 {1000 * percentile(baseline, 0.99):.1f} ms ({len(baseline)} requests)",
        f"- 201 latency, through the restarts: p50 {1000 * statistics.median(faulted):.1f} ms, "
        f"p99 {1000 * percentile(faulted, 0.99):.1f} ms ({len(faulted)} requests); "
        f"p99 ratio {percentile(faulted, 0.99) / percentile(baseline, 0.99):.1f} x",
        f"- API RSS: {rss_before:.0f} MB before, {rss_after:.0f} MB after "
        f"({100 * (rss_after / rss_before - 1):+.1f} %)",
    ]
    return [*lines, *(f"  - unexpected: {text}" for text in ledger.unexpected[:5])]


async def _product_and_vendor(database_url: str) -> tuple[uuid.UUID, uuid.UUID]:
    connection = await asyncpg.connect(database_url)
    try:
        product, vendor = uuid.uuid4(), uuid.uuid4()
        await connection.execute("INSERT INTO vendors (id, qualification) VALUES ($1, 'A')", vendor)
        await connection.execute(
            "INSERT INTO products (id, name, price, quantity, required_qualification) "
            "VALUES ($1, 'restart target', $2, 100000000, 'C')",
            product,
            Decimal("1.00"),
        )
        return product, vendor
    finally:
        await connection.close()


async def _audit(database_url: str, product: uuid.UUID, ledger: Ledger) -> tuple[int, int]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT id FROM transactions WHERE product_id = $1", product)
    finally:
        await connection.close()
    recorded = [row["id"] for row in rows]
    return len(ledger.acknowledged - set(recorded)), len(recorded) - len(set(recorded))


async def _burst(api: ApiServer) -> tuple[Counter[int], list[float], list[float], list[str]]:
    limits = httpx.Limits(max_connections=BURST_CONNECTIONS)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=60, limits=limits) as http:
        token = (await http.post("/login/token", data={"username": "a", "password": "a"})).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}

        async def one() -> tuple[int, float, str]:
            started = time.monotonic()
            response = await http.get("/transactions", params={"limit": 50}, headers=headers)
            return response.status_code, time.monotonic() - started, response.headers.get("retry-after", "")

        results = await asyncio.gather(*(one() for _ in range(BURST)))
    statuses = Counter(status for status, _, _ in results)
    served = [took for status, took, _ in results if status == 200]
    shed = [took for status, took, _ in results if status == 503]
    retry_after = sorted({value for status, _, value in results if status == 503})
    return statuses, served, shed, retry_after


def _ms(values: list[float], share: float) -> str:
    return f"{1000 * percentile(values, share):.0f}"


def overload(env: dict[str, str], workdir: Path, tick: Callable[[str], None]) -> list[str]:
    lines = [
        f"## {BURST} list requests over {BURST_CONNECTIONS} connections",
        "",
        "| pool | statuses | served p50 / p99 | shed (503) p50 / max wait | Retry-After | API RSS |",
        "|---|---|---|---|---|---|",
    ]
    for name, pool in (
        ("default (20 + 10 overflow, 1 s timeout)", {}),
        (
            "2, no overflow, 0.2 s timeout",
            {
                "SUPPLIERS_DB_POOL_SIZE": "2",
                "SUPPLIERS_DB_MAX_OVERFLOW": "0",
                "SUPPLIERS_DB_POOL_TIMEOUT": "0.2",
            },
        ),
    ):
        api = ApiServer(f"burst-{len(pool)}", {**env, **pool, "SUPPLIERS_WORKERS": "1"}, workdir).start()
        try:
            before = api.rss_mb()
            statuses, served, shed, retry_after = asyncio.run(_burst(api))
            after = api.rss_mb()
        finally:
            api.stop()
        lines.append(
            f"| {name} | {dict(sorted(statuses.items()))} | {_ms(served, 0.5)} / {_ms(served, 0.99)} ms | "
            + (f"{_ms(shed, 0.5)} / {_ms(shed, 1.0)} ms" if shed else "—")
            + f" | {', '.join(retry_after) or '—'} | {before:.0f} → {after:.0f} MB |"
        )
        tick(f"overload: pool {name}")
    return lines


def main() -> int:
    out = Path(os.environ.get("BENCH_OUT", "reports/bench")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="suppliers-faults-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        servers = start_servers(workdir, stack)
        postgres, database_url, redis_url = servers.postgres, servers.database_url, servers.redis_url
        upgrade(database_url)
        asyncio.run(generate(database_url, vendors=200, products=2000, seed=11))
        asyncio.run(ensure_demo_users(database_url))
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
                report = asyncio.run(restarts(api, postgres, database_url, tick))
            finally:
                api.stop()
            report += ["", *overload(env, workdir, tick)]
    text = "# Faults\n\n" + "\n".join(report) + "\n"
    (out / "faults.md").write_text(text)
    print(text)
    print(f"faults: written to {out / 'faults.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
