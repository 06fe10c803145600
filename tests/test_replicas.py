"""Two API replicas behind a real nginx running the balancer's proxy.conf from the compose stack.

Sessions, revocations and login counters live in Redis and PostgreSQL, so the replicas are
interchangeable; one process of the fleet runs the automatic resupply; and a replica killed in the
middle of the load loses no commit while the other keeps serving.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import pytest

from suppliers.devtools.processes import start_and_wait, stop_process
from suppliers.devtools.withdrawals import CarefulWithdrawals, Ledger, audit, withdrawal_target
from suppliers.embedded.postgres import free_port
from tests.conftest import TEST_JWT_SECRET, login
from tests.servers import ApiProcess
from tests.toolchain import REPO_ROOT, require_program

PROXY_CONF = REPO_ROOT / "compose" / "balancer" / "proxy.conf"
LEADER_LINE = "this process now runs the automatic resupply"


@dataclass
class Fleet:
    replicas: list[ApiProcess]
    balancer_url: str


def nginx_config(workdir: Path, *, port: int, upstreams: list[int]) -> str:
    """The compose nginx.conf with its upstream on loopback ports instead of Docker's DNS."""
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in upstreams)
    temp = "\n".join(
        f"    {kind}_temp_path {workdir / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
daemon off;
user root;
worker_processes 1;
error_log {workdir / "error.log"} warn;
pid {workdir / "nginx.pid"};
events {{ worker_connections 1024; }}
http {{
    access_log off;
{temp}
    upstream api {{
{servers}
        keepalive 16;
        keepalive_timeout 60s;
    }}
    server {{
        listen 127.0.0.1:{port};
        include {PROXY_CONF};
    }}
}}
"""


@pytest.fixture(scope="module")
def fleet(database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    nginx = require_program("nginx", install="apt-get install nginx-light")
    workdir = tmp_path_factory.mktemp("fleet")
    environment = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SUPPLIERS_JWT_SECRET": TEST_JWT_SECRET,
        "SUPPLIERS_AUTO_RESUPPLY": "true",
        "SUPPLIERS_AUTO_RESUPPLY_INTERVAL_SECONDS": "1",
        "SUPPLIERS_LOG_LEVEL": "INFO",
    }
    replicas = [ApiProcess(environment, log_path=workdir / f"replica-{n}.log").start() for n in range(2)]
    port = free_port()
    config = workdir / "nginx.conf"
    config.write_text(nginx_config(workdir, port=port, upstreams=[r.port for r in replicas]))
    balancer = start_and_wait(
        [str(nginx), "-c", str(config), "-p", str(workdir)],
        log_path=workdir / "nginx.out",
        ready_url=f"http://127.0.0.1:{port}/health/live",
        what="nginx",
    )
    try:
        yield Fleet(replicas, f"http://127.0.0.1:{port}")
    finally:
        stop_process(balancer)
        for replica in replicas:
            replica.stop()


def leaders(fleet: Fleet) -> list[int]:
    return [n for n, replica in enumerate(fleet.replicas) if LEADER_LINE in replica.log()]


async def test_the_balancer_spreads_requests_over_both_replicas(fleet: Fleet) -> None:
    async with httpx.AsyncClient(base_url=fleet.balancer_url, timeout=30) as http:
        headers = await login(http, "g")
        for _ in range(20):
            assert (await http.get("/vendors", params={"limit": 1}, headers=headers)).status_code == 200
    # Each replica's access log has requests: nginx balanced them round robin.
    assert all("GET /vendors" in replica.log() for replica in fleet.replicas)


async def test_a_logout_on_one_replica_is_honoured_on_the_other_at_once(fleet: Fleet) -> None:
    first, second = (replica.base_url for replica in fleet.replicas)
    async with httpx.AsyncClient(timeout=30) as http:
        token = (await http.post(f"{first}/login/token", data={"username": "h", "password": "h"})).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert (await http.get(f"{second}/login/me", headers=headers)).status_code == 200  # cached there too
        assert (await http.post(f"{first}/login/logout", headers=headers)).status_code == 204
        assert (await http.get(f"{second}/login/me", headers=headers)).status_code == 401


async def test_one_replica_runs_the_automatic_resupply(fleet: Fleet, db: asyncpg.Pool) -> None:
    product = uuid.uuid4()
    await db.execute(
        "INSERT INTO products (id, name, price, quantity, required_qualification) VALUES ($1, 'fleet', $2, 4, 'C')",
        product,
        Decimal("1.00"),
    )
    for _ in range(100):
        if await db.fetchval("SELECT quantity FROM products WHERE id = $1", product) != 4:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(2.5)  # a few more rounds of the job: none may resupply it again
    assert await db.fetchval("SELECT quantity FROM products WHERE id = $1", product) == 54
    assert await db.fetchval("SELECT count(*) FROM transactions WHERE product_id = $1", product) == 1
    assert len(leaders(fleet)) == 1, [r.log()[-500:] for r in fleet.replicas]


async def test_a_replica_killed_mid_load_loses_no_commit(fleet: Fleet, database_url: str) -> None:
    product, vendor = await withdrawal_target(database_url, stock=100_000)
    ledger, stop = Ledger(), asyncio.Event()
    [leader_before] = leaders(fleet)
    async with httpx.AsyncClient(base_url=fleet.balancer_url, timeout=30) as http:
        headers = await login(http, "a")

        withdrawal = CarefulWithdrawals(http, headers, product, vendor, ledger, balancer=True)
        clients = [asyncio.create_task(withdrawal.repeat_until(stop)) for _ in range(12)]
        try:
            await asyncio.sleep(1.5)
            fleet.replicas[leader_before].kill()  # the leader, too: someone must take over
            killed_at, acknowledged_at_kill = time.monotonic(), len(ledger.acknowledged)
            await asyncio.sleep(3)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*clients), timeout=60)
        finally:
            for task in clients:
                task.cancel()
    assert len(ledger.acknowledged) > acknowledged_at_kill + 50, "the survivor did not keep serving"
    assert time.monotonic() - killed_at < 60
    assert not ledger.unexpected, ledger.unexpected[:5]
    found = await audit(database_url, product, ledger, initial_stock=100_000)
    assert found.clean, found
    # The survivor took over the job.
    survivor = 1 - leader_before
    for _ in range(50):
        if LEADER_LINE in fleet.replicas[survivor].log():
            break
        await asyncio.sleep(0.1)
    assert LEADER_LINE in fleet.replicas[survivor].log()
