"""Manual resupply (PUT /products/quantity) and the automatic job with its advisory lock."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
from opentelemetry.trace import NoOpTracerProvider

from suppliers.db.engine import create_engine
from suppliers.inventory.services import StockRules, StockServices
from suppliers.inventory.stock_watch import StockWatcher
from suppliers.settings import Settings
from suppliers.telemetry.instruments import noop_instruments
from tests.conftest import login
from tests.rows import MakeProduct


async def test_put_resupplies_every_low_product_in_one_transaction(
    client: httpx.AsyncClient, make_product: MakeProduct, db: asyncpg.Pool
) -> None:
    headers = await login(client, "a")
    low = [await make_product(quantity=q) for q in (0, 10, 49)]
    high = await make_product(quantity=50)
    response = await client.put("/products/quantity", headers=headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert set(map(str, low)) <= set(result["product_ids"]) and str(high) not in result["product_ids"]
    assert result["count"] == len(result["product_ids"])
    assert {await db.fetchval("SELECT quantity FROM products WHERE id = $1", p) for p in low} == {50, 60, 99}
    lines = await db.fetch("SELECT * FROM transactions WHERE id = $1", uuid.UUID(result["transaction_id"]))
    assert len(lines) == result["count"]
    assert {line["action"] for line in lines} == {"addition"} and {line["quantity"] for line in lines} == {50}
    # Recorded under the operator's own vendor (a acts for 24c8baa4-…).
    assert {str(line["vendor_id"]) for line in lines} == {"24c8baa4-40db-4dd7-83b7-fd28b09b0155"}
    # Nothing left to resupply: still a 200, with zero products.
    again = (await client.put("/products/quantity", headers=headers)).json()
    assert again == {"transaction_id": None, "count": 0, "product_ids": []}


async def test_a_vendor_user_may_not_resupply(
    client: httpx.AsyncClient, make_product: MakeProduct, db: asyncpg.Pool
) -> None:
    low = await make_product(quantity=3)
    lines_before = await db.fetchval("SELECT count(*) FROM transactions")
    response = await client.put("/products/quantity", headers=await login(client, "b"))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "operators only" in response.json()["detail"]
    assert await db.fetchval("SELECT quantity FROM products WHERE id = $1", low) == 3
    assert await db.fetchval("SELECT count(*) FROM transactions") == lines_before


async def test_concurrent_resupplies_raise_each_product_once(
    api: object, make_product: MakeProduct, db: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient(base_url=api.base_url, timeout=60) as http:  # type: ignore[attr-defined]
        headers = await login(http, "a")
        products = [await make_product(quantity=5) for _ in range(5)]
        results = await asyncio.gather(*(http.put("/products/quantity", headers=headers) for _ in range(6)))
    assert {r.status_code for r in results} == {200}
    assert sum(r.json()["count"] for r in results) >= len(products)
    assert {await db.fetchval("SELECT quantity FROM products WHERE id = $1", p) for p in products} == {55}


def _watcher(settings: Settings, *, resupply: bool = True) -> tuple[StockWatcher, object]:
    engine = create_engine(settings)
    tracer = NoOpTracerProvider().get_tracer("test")
    rules = StockRules(
        resupply_threshold=settings.resupply_threshold, resupply_amount=settings.resupply_amount
    )
    watcher = StockWatcher(
        engine=engine,
        make_service=StockServices(
            engine=engine, rules=rules, tracer=tracer, instruments=noop_instruments(), signal_low_stock=False
        ),
        tracer=tracer,
        interval_seconds=0.2,
        resupply=resupply,
    )
    return watcher, engine


async def test_automatic_resupply_records_a_system_transaction(
    database_url: str, make_product: MakeProduct, db: asyncpg.Pool
) -> None:
    product = await make_product(quantity=3)
    watcher, engine = _watcher(Settings(database_url=database_url))
    try:
        await watcher.run_once("scheduled")
    finally:
        await engine.dispose()  # type: ignore[attr-defined]
    assert await db.fetchval("SELECT quantity FROM products WHERE id = $1", product) == 53
    line = await db.fetchrow("SELECT * FROM transactions WHERE product_id = $1", product)
    assert line["vendor_id"] is None and line["action"] == "addition"  # made by the system itself
    assert watcher.low_stock == 0


async def test_the_job_skips_while_another_replica_holds_the_lock(
    database_url: str, make_product: MakeProduct, db: asyncpg.Pool
) -> None:
    product = await make_product(quantity=1)
    watcher, engine = _watcher(Settings(database_url=database_url))
    async with db.acquire() as other_replica, other_replica.transaction():
        await other_replica.execute("SELECT pg_advisory_xact_lock($1)", 0x5E5_0001)
        try:
            await asyncio.wait_for(watcher.run_once("scheduled"), timeout=10)
        finally:
            await engine.dispose()  # type: ignore[attr-defined]
    assert await db.fetchval("SELECT quantity FROM products WHERE id = $1", product) == 1


async def test_one_watcher_leads_and_another_takes_over_when_it_goes(database_url: str) -> None:
    """Every API process has a watcher; the session advisory lock lets exactly one of them work."""
    settings = Settings(database_url=database_url)
    (first, first_engine), (second, second_engine) = _watcher(settings), _watcher(settings)
    try:
        assert await first.lead() and first.is_leader
        assert not await second.lead() and not second.is_leader
        assert await first.lead()  # keeps it
        await first.stop()  # the leader goes: its connection closes, the lock with it
        assert await second.lead() and second.is_leader
        assert not await first.lead()
    finally:
        await first.stop()
        await second.stop()
        await first_engine.dispose()  # type: ignore[attr-defined]
        await second_engine.dispose()  # type: ignore[attr-defined]


async def test_the_leader_hears_a_committed_withdrawal_signal_only(
    database_url: str, db: asyncpg.Pool
) -> None:
    from opentelemetry.trace import SpanContext, TraceFlags

    from suppliers.inventory import low_stock_signal

    watcher, engine = _watcher(Settings(database_url=database_url))
    sender = SpanContext(0x1234, 0x5678, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    try:
        assert await watcher.lead()
        async with db.acquire() as connection:
            rolled_back = connection.transaction()
            await rolled_back.start()
            await connection.execute("SELECT pg_notify($1, 'rolled back')", low_stock_signal.CHANNEL)
            await rolled_back.rollback()
            await asyncio.sleep(0.3)
            assert not watcher._wake.is_set()
            await connection.execute(
                "SELECT pg_notify($1, $2)", low_stock_signal.CHANNEL, low_stock_signal.encode(sender)
            )
        await asyncio.wait_for(watcher._wake.wait(), timeout=5)
        [link] = watcher._pokes
        assert (link.context.trace_id, link.context.span_id) == (0x1234, 0x5678)
    finally:
        await watcher.stop()
        await engine.dispose()  # type: ignore[attr-defined]


async def test_turned_off_it_only_measures_low_stock(
    database_url: str, make_product: MakeProduct, db: asyncpg.Pool
) -> None:
    product = await make_product(quantity=2)
    watcher, engine = _watcher(Settings(database_url=database_url), resupply=False)
    try:
        await watcher.run_once("scheduled")
    finally:
        await engine.dispose()  # type: ignore[attr-defined]
    assert await db.fetchval("SELECT quantity FROM products WHERE id = $1", product) == 2
    assert watcher.low_stock == await db.fetchval("SELECT count(*) FROM products WHERE quantity < 50")
    await db.execute("UPDATE products SET quantity = 100 WHERE id = $1", product)


async def test_a_withdrawal_crossing_the_threshold_wakes_the_job(
    database_url: str,
    redis_url: str,
    make_vendor: object,
    make_product: MakeProduct,
    db: asyncpg.Pool,
    tmp_path: object,
) -> None:
    from tests.servers import ApiProcess

    # A long interval: only the threshold crossing can explain a resupply within the wait below.
    process = ApiProcess(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SUPPLIERS_AUTO_RESUPPLY": "true",
            "SUPPLIERS_AUTO_RESUPPLY_INTERVAL_SECONDS": "3600",
        },
        log_path=tmp_path / "api.log",  # type: ignore[operator]
    ).start()
    try:
        vendor = await make_vendor("A")  # type: ignore[operator]
        product = await make_product(quantity=51)
        async with httpx.AsyncClient(base_url=process.base_url, timeout=30) as http:
            headers = await login(http, "a")
            response = await http.post(
                "/transactions",
                json={
                    "product_id": str(product),
                    "vendor_id": str(vendor),
                    "action": "withdrawal",
                    "quantity": 2,
                },
                headers=headers,
            )
            assert response.status_code == 201
        for _ in range(100):
            if await db.fetchval("SELECT quantity FROM products WHERE id = $1", product) == 99:
                break
            await asyncio.sleep(0.1)
        assert await db.fetchval("SELECT quantity FROM products WHERE id = $1", product) == 99
    finally:
        process.stop()
