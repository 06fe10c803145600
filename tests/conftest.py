"""Shared fixtures: one real PostgreSQL and Redis per test session, a migrated database with
sample data, the API running under uvicorn, and helpers to create the rows a test needs.

Set TEST_DATABASE_URL / TEST_REDIS_URL to use servers of your own (the tests write to them);
otherwise embedded servers start from the wheels, under a temporary folder.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from suppliers.data.seeding import generate
from suppliers.db.migrations import upgrade
from tests.rows import MakeProduct, MakeUser, MakeVendor, product_maker, user_maker, vendor_maker
from tests.servers import ApiProcess

TEST_VENDORS = 100
TEST_PRODUCTS = 500
# The session API's signing key, known here so tests can forge tokens it must refuse.
TEST_JWT_SECRET = "tests-only-signing-key-" + "k" * 24


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object | None]:
    if os.environ.get("TEST_DATABASE_URL"):
        yield None
        return
    from suppliers.embedded.postgres import EmbeddedPostgres

    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data")
    server.start()
    yield server
    server.remove()


@pytest.fixture(scope="session")
def server_url(pg_server: object | None) -> str:
    """URL of the server, to the `postgres` maintenance database (tests create their own)."""
    if pg_server is None:
        return os.environ["TEST_DATABASE_URL"]
    url: str = pg_server.url  # type: ignore[attr-defined]
    return url.rsplit("/", 1)[0] + "/postgres"


def _with_database(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


async def create_database(server_url: str, name: str) -> str:
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return _with_database(server_url, name)


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> str:
    """A migrated database with generated sample data and the demo users."""
    url = await create_database(server_url, "suppliers_test")
    upgrade(url)
    await generate(url, vendors=TEST_VENDORS, products=TEST_PRODUCTS, seed=7)
    return url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("TEST_REDIS_URL"):
        yield os.environ["TEST_REDIS_URL"]
        return
    from suppliers.embedded.redis import EmbeddedRedis

    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    yield server.start()
    server.stop()


@pytest.fixture(scope="session")
def api(database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    process = ApiProcess(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SUPPLIERS_LOGIN_MAX_FAILURES": "5",
            "SUPPLIERS_JWT_SECRET": TEST_JWT_SECRET,
        },
        log_path=tmp_path_factory.mktemp("api") / "api.log",
    ).start()
    yield process
    process.stop()


@pytest.fixture
async def client(api: ApiProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
        yield http


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
def make_vendor(db: asyncpg.Pool) -> MakeVendor:
    return vendor_maker(lambda sql, args: db.execute(sql, *args))


@pytest.fixture
def make_product(db: asyncpg.Pool) -> MakeProduct:
    return product_maker(lambda sql, args: db.execute(sql, *args))


@pytest.fixture
def make_user(db: asyncpg.Pool) -> MakeUser:
    return user_maker(lambda sql, args: db.execute(sql, *args))


async def login(client: httpx.AsyncClient, username: str, password: str | None = None) -> dict[str, str]:
    response = await client.post(
        "/login/token", data={"username": username, "password": password or username}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
async def operator(client: httpx.AsyncClient) -> dict[str, str]:
    """Headers of the demo operator `a`, who may act for any vendor."""
    return await login(client, "a")


async def stock_of(db: asyncpg.Pool, product_id: uuid.UUID) -> int:
    return int(await db.fetchval("SELECT quantity FROM products WHERE id = $1", product_id))
