"""Faults of the service's own dependencies: a PostgreSQL restart under load, and overload.

Answers under a fault are 503 with Retry-After, never 500; a client that retries with its own
transaction id gets each withdrawal applied exactly once, and stock adds up afterwards.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from suppliers.data.seeding import generate
from suppliers.db.migrations import upgrade
from suppliers.devtools.withdrawals import CarefulWithdrawals, Ledger, audit, withdrawal_target
from suppliers.embedded.postgres import EmbeddedPostgres
from tests.conftest import TEST_JWT_SECRET
from tests.servers import ApiProcess

INITIAL_STOCK = 1_000_000


@pytest.fixture(scope="module")
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """A server of this module's own: it is restarted on purpose."""
    server = EmbeddedPostgres(tmp_path_factory.mktemp("restarted-pg") / "data")
    server.start()
    yield server
    server.remove()


@pytest.fixture(scope="module")
async def restartable_api(
    own_postgres: EmbeddedPostgres, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[ApiProcess, str]]:
    url = own_postgres.url
    upgrade(url)
    await generate(url, vendors=40, products=40, seed=3)
    api = ApiProcess(
        {"DATABASE_URL": url, "REDIS_URL": redis_url, "SUPPLIERS_JWT_SECRET": TEST_JWT_SECRET},
        log_path=tmp_path_factory.mktemp("restart-api") / "api.log",
    ).start()
    yield api, url
    api.stop()


async def test_a_postgresql_restart_under_load_is_503s_then_recovery_and_nothing_lost(
    restartable_api: tuple[ApiProcess, str], own_postgres: EmbeddedPostgres
) -> None:
    api, url = restartable_api
    product, vendor = await withdrawal_target(url, stock=INITIAL_STOCK)
    ledger = Ledger()
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30, limits=limits) as http:
        token = (await http.post("/login/token", data={"username": "a", "password": "a"})).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}

        withdrawal = CarefulWithdrawals(http, headers, product, vendor, ledger)
        clients = [asyncio.create_task(withdrawal.repeat_until(stop)) for _ in range(16)]
        try:
            await asyncio.sleep(2)
            before = len(ledger.acknowledged)
            # Orderly restarts and crash-like ones, while 16 clients keep statements in flight.
            for mode in ("fast", "immediate", "fast", "immediate"):
                own_postgres.restart(mode)
                await asyncio.sleep(2)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*clients), timeout=60)
        finally:
            for task in clients:
                task.cancel()
        # Recovered by itself: served again after the restarts, with the same API process.
        assert len(ledger.acknowledged) > before
        assert (await http.get("/health/ready")).status_code == 200

    assert not ledger.unexpected, ledger.unexpected[:5]
    assert set(ledger.statuses) <= {201, 503}, ledger.statuses
    assert ledger.statuses[503] > 0, "the restarts were not even noticed"
    # Every 201 is one row, no row lacks its 201, and stock moved by exactly the rows.
    found = await audit(url, product, ledger, initial_stock=INITIAL_STOCK)
    assert found.clean, found


async def test_overload_with_a_small_pool_is_503_busy_within_a_bounded_wait(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    """200 connections, a slow database and two pooled connections: every answer is 200 or 503 busy."""
    api = ApiProcess(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SUPPLIERS_JWT_SECRET": TEST_JWT_SECRET,
            "SUPPLIERS_DB_POOL_SIZE": "2",
            "SUPPLIERS_DB_MAX_OVERFLOW": "0",
            "SUPPLIERS_DB_POOL_TIMEOUT": "0.2",
            # /metrics, to read the pool's own count of timeouts.
            "OTEL_SDK_DISABLED": "false",
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
        },
        log_path=tmp_path / "api.log",
    ).start()
    try:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=api.base_url, timeout=60, limits=limits) as http:
            token = (await http.post("/login/token", data={"username": "a", "password": "a"})).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}

            async def one() -> tuple[httpx.Response, float]:
                started = time.monotonic()
                response = await http.get("/transactions", params={"limit": 50}, headers=headers)
                return response, time.monotonic() - started

            # A slow database, made so on purpose: while the table is locked, the two pooled
            # connections stay checked out and every other request waits for one, past the timeout.
            blocker = await asyncpg.connect(database_url)
            try:
                locked = blocker.transaction()
                await locked.start()
                await blocker.execute("LOCK TABLE transactions IN ACCESS EXCLUSIVE MODE")
                burst = asyncio.gather(*(one() for _ in range(600)))
                await asyncio.sleep(1.0)
                await locked.rollback()
            finally:
                await blocker.close()
            results = await burst
            metrics = (await http.get("/metrics")).text
    finally:
        api.stop()
    statuses = Counter(response.status_code for response, _ in results)
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[503] > 0 and statuses[200] > 0, statuses
    for response, _ in results:
        if response.status_code == 503:
            assert response.headers["retry-after"] == "1"
            assert "busy" in response.json()["detail"]
    timeouts = [
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("db_client_connection_timeouts_total")
    ]
    assert timeouts == [statuses[503]], "every busy answer is counted, and only those"
    assert "database unavailable" not in api.log()
