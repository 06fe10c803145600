"""What the benchmark measures against: embedded PostgreSQL and Redis with sample data, and the API."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import asyncpg
import httpx

from suppliers.data.seeding import ensure_demo_users, generate
from suppliers.db.migrations import upgrade
from suppliers.devtools import usage
from suppliers.devtools.processes import ServerDidNotStart, ServerProcess
from suppliers.embedded.postgres import EmbeddedPostgres, bin_dir, free_port
from suppliers.embedded.redis import EmbeddedRedis
from suppliers.inventory.qualification import QUALIFICATIONS, can_handle

HERE = Path(__file__).parent
REPO_ROOT = HERE.parents[1]
VENDORS, PRODUCTS = 1_000, 10_000
# Enough stock that a whole benchmark of withdrawals never runs a product out.
STOCK = 100_000_000
USER = "b"


def report_dir() -> Path:
    """Where a benchmark writes its report: BENCH_OUT (`make` sets it to reports/bench), made if missing."""
    out = Path(os.environ.get("BENCH_OUT", "reports/bench")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    return out


@dataclass(frozen=True)
class Fixture:
    """What a load script needs: a token, the vendor it acts for, products it may withdraw."""

    token: str
    vendor_id: str
    products_file: Path
    product_count: int


@dataclass(frozen=True)
class Servers:
    postgres: EmbeddedPostgres
    database_url: str
    redis_url: str


def start_servers(workdir: Path, stack: ExitStack) -> Servers:
    """Embedded PostgreSQL and Redis under ``workdir``, removed when ``stack`` closes."""
    postgres = EmbeddedPostgres(workdir / "postgres")
    database_url = postgres.start()
    stack.callback(postgres.remove)
    redis = EmbeddedRedis(workdir / "redis")
    redis_url = redis.start()
    stack.callback(redis.stop)
    return Servers(postgres, database_url, redis_url)


def prepare_small_data(database_url: str) -> None:
    """Schema, 200 vendors and 2,000 products, the demo users: what the fault benchmarks act on."""
    upgrade(database_url)
    asyncio.run(generate(database_url, vendors=200, products=2000, seed=11))
    asyncio.run(ensure_demo_users(database_url))


def prepare_data(database_url: str) -> None:
    upgrade(database_url)
    asyncio.run(generate(database_url, vendors=VENDORS, products=PRODUCTS, seed=42))
    asyncio.run(ensure_demo_users(database_url))
    asyncio.run(_raise_stock(database_url))


async def _raise_stock(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("UPDATE products SET quantity = $1", STOCK)
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


SERVE = [sys.executable, "-m", "suppliers", "serve", "--no-seed"]


def run_bench(main: Callable[[], int | None]) -> NoReturn:
    """A benchmark's entry point: its exit status, or a server that did not start said in one line
    on the console (the log's last line and its path) instead of a traceback."""
    try:
        status = main()
    except ServerDidNotStart as failure:
        sys.exit(f"bench: {failure.summary}")
    sys.exit(status)


class ApiServer(ServerProcess):
    """The API as it is deployed: `suppliers serve`, one worker per CPU unless SUPPLIERS_WORKERS says."""

    start_timeout = 60.0
    stop_grace = 20.0

    def __init__(self, name: str, env: dict[str, str], workdir: Path) -> None:
        super().__init__(log_path=workdir / f"api-{name}.log")
        self.what = f"the API ({name})"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._env = {
            **os.environ,
            "SUPPLIERS_AUTO_RESUPPLY": "false",
            "SUPPLIERS_JWT_SECRET": "bench-only-signing-key-" + "b" * 24,
            "SUPPLIERS_DATA_DIR": str(workdir / f"data-{name}"),
            "SUPPLIERS_LOG_LEVEL": "WARNING",
            **env,
        }

    def command(self) -> list[str]:
        return [*SERVE, "--host", "127.0.0.1", "--port", str(self.port)]

    def ready_url(self) -> str:
        return f"{self.base_url}/health/ready"

    def environment(self) -> dict[str, str]:
        return self._env

    def rss_mb(self) -> float:
        return usage.rss_mb(self.pid)


@dataclass(frozen=True)
class Sink:
    """Discarding OTLP endpoints: HTTP (``http``, a base URL) and gRPC (``grpc``, host:port)."""

    http: str
    grpc: str


def start_sink(stack: ExitStack) -> Sink:
    http_port, grpc_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, str(HERE / "otlp_sink.py"), str(http_port), str(grpc_port)], stdin=subprocess.DEVNULL
    )
    stack.callback(process.terminate)
    time.sleep(0.5)  # both listeners up before anything exports
    return Sink(http=f"http://127.0.0.1:{http_port}", grpc=f"127.0.0.1:{grpc_port}")


def fixture_for(api: ApiServer, workdir: Path) -> Fixture:
    """Sign in as the demo vendor user, and list the products its vendor is qualified for."""
    with httpx.Client(base_url=api.base_url, timeout=30) as http:
        token = http.post("/login/token", data={"username": USER, "password": USER}).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        vendor_id = http.get("/login/me", headers=auth).json()["vendor_id"]
        qualification = http.get(f"/vendors/{vendor_id}", headers=auth).json()["qualification"]
        products: list[str] = []
        for required in (grade for grade in QUALIFICATIONS if can_handle(qualification, grade)):
            page = http.get(f"/products?required_qualification={required}&limit=1000", headers=auth).json()
            products += [item["id"] for item in page["items"]]
    products_file = workdir / "products.txt"
    products_file.write_text("\n".join(products) + "\n")
    return Fixture(token=token, vendor_id=vendor_id, products_file=products_file, product_count=len(products))


async def _bench_products(database_url: str, ids: list[str]) -> None:
    """pgbench picks products by number: the same products the wrk script picks from."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "DROP TABLE IF EXISTS bench_products;"
            "CREATE TABLE bench_products (n int PRIMARY KEY, id uuid NOT NULL)"
        )
        await connection.copy_records_to_table(
            "bench_products", records=[(n, id_) for n, id_ in enumerate(ids, start=1)], columns=["n", "id"]
        )
    finally:
        await connection.close()


def prepare_pgbench(database_url: str, fixture: Fixture) -> Path:
    asyncio.run(_bench_products(database_url, fixture.products_file.read_text().split()))
    return bin_dir() / "pgbench"
