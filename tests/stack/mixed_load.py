"""A short, deterministic mixed load for the stack tests: every kind of telemetry the dashboards show.

Successes and refusals of each rule (201, 403, 404, 409), reads, failed logins up to a 429, session
cache misses (with a short cache TTL on the API), a manual resupply, 500s and slow requests from the
playground. Each round checks its statuses, so a broken API fails the load instead of starving the
dashboards quietly.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal

import asyncpg
import httpx

from suppliers.devtools.withdrawals import transaction_body


async def drive_mixed_load(base_url: str, db: asyncpg.Pool, *, seconds: float = 6.0) -> int:
    """Run rounds of the mix for at least ``seconds``; returns how many rounds ran."""
    vendor = uuid.uuid4()
    await db.execute("INSERT INTO vendors (id, qualification) VALUES ($1, 'B')", vendor)
    products = []
    for quantity, required in ((100_000, "C"), (60, "C"), (1000, "A"), (0, "C")):
        product = uuid.uuid4()
        await db.execute(
            "INSERT INTO products (id, name, price, quantity, required_qualification) VALUES ($1, $2, $3, $4, $5)",
            product,
            f"stack load {product.hex[:8]}",
            Decimal("1.00"),
            quantity,
            required,
        )
        products.append(product)
    plenty, scarce, unqualified, empty = products
    rounds = 0
    ends = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        token = (await http.post("/login/token", data={"username": "a", "password": "a"})).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        ghost = f"ghost-{uuid.uuid4().hex[:8]}"
        for attempt in range(6):  # invalid credentials, then 429 for this name
            await http.post("/login/token", data={"username": ghost, "password": str(attempt)})
        while rounds == 0 or time.monotonic() < ends:
            calls = [
                http.post("/transactions", json=transaction_body(plenty, vendor), headers=headers),
                http.post(
                    "/transactions",
                    json=transaction_body(plenty, vendor, "addition", 2),
                    headers=headers,
                ),
                http.post(
                    "/transactions",
                    json=transaction_body(scarce, vendor, quantity=1000),
                    headers=headers,
                ),
                http.post("/transactions", json=transaction_body(unqualified, vendor), headers=headers),
                http.post("/transactions", json=transaction_body(plenty, uuid.uuid4()), headers=headers),
                http.get("/products?limit=10", headers=headers),
                http.get(f"/products/{plenty}", headers=headers),
                http.get("/transactions?limit=10", headers=headers),
                http.get("/vendors?limit=5", headers=headers),
                http.get("/playground/error"),
                http.get("/playground/slow?seconds=0.6"),
                http.get("/hello?delay=0"),
            ]
            statuses = [r.status_code for r in await asyncio.gather(*calls)]
            assert statuses == [201, 201, 409, 403, 404, 200, 200, 200, 200, 500, 200, 200], statuses
            if rounds == 0:
                await db.execute("UPDATE products SET quantity = 0 WHERE id = $1", empty)
                assert (await http.put("/products/quantity", headers=headers)).status_code == 200
            rounds += 1
            await asyncio.sleep(1.5)  # past the session cache TTL: the next lookups miss
    return rounds
