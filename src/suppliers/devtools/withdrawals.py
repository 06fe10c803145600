"""Careful clients of POST /transactions, for fault tests and benchmarks: what they were told, how
they retry, and whether the database agrees with it afterwards.

A careful client withdraws under its own transaction id and repeats that id until the service says
201, waiting as Retry-After asks. So through any fault, every 201 must be exactly one row, and no
row may exist without one: `Audit` checks both, and that stock moved by what the rows say.
(httpx comes with the dev dependencies: tests and benchmarks only.)
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

import asyncpg
import httpx

from suppliers.inventory.schemas import Action


def transaction_body(
    product_id: uuid.UUID,
    vendor_id: uuid.UUID,
    action: Action = "withdrawal",
    quantity: int = 1,
    *,
    transaction_id: uuid.UUID | None = None,
    **extra: object,
) -> dict[str, object]:
    """A POST /transactions body; with ``transaction_id`` it carries its own id (safe to retry)."""
    body: dict[str, object] = {
        "product_id": str(product_id),
        "vendor_id": str(vendor_id),
        "action": action,
        "quantity": quantity,
        **extra,
    }
    if transaction_id is not None:
        body["id"] = str(transaction_id)
    return body


@dataclass
class Ledger:
    """What the clients were told: every id acknowledged (201) and when, every other answer."""

    acknowledged: set[uuid.UUID] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    # (when it was answered, seconds the acknowledged attempt took) of every 201
    served: list[tuple[float, float]] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)


@dataclass
class CarefulWithdrawals:
    """Withdrawals of 1 from ``product`` for ``vendor``, each under a fresh id, told to ``ledger``.

    Behind a ``balancer``, a replica that dies mid-request is a 502 from nginx: retried as well.
    """

    http: httpx.AsyncClient
    headers: dict[str, str]
    product: uuid.UUID
    vendor: uuid.UUID
    ledger: Ledger
    balancer: bool = False

    async def repeat_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.until_acknowledged(uuid.uuid4())

    async def until_acknowledged(self, transaction_id: uuid.UUID) -> None:
        """The same id until the service says 201 (or something no retry can mend)."""
        body = transaction_body(self.product, self.vendor, transaction_id=transaction_id)
        ledger = self.ledger
        while True:
            started = time.monotonic()
            try:
                response = await self.http.post("/transactions", json=body, headers=self.headers)
            except httpx.TransportError:
                ledger.transport_errors += 1
                await asyncio.sleep(0.2)
                continue
            ledger.statuses[response.status_code] += 1
            if response.status_code == 201:
                ledger.acknowledged.add(transaction_id)
                answered = time.monotonic()
                ledger.served.append((answered, answered - started))
                return
            if self.balancer and response.status_code == 502:
                await asyncio.sleep(0.1)
                continue
            if response.status_code != 503 or "retry-after" not in response.headers:
                ledger.unexpected.append(f"{response.status_code} {response.text[:300]}")
                return
            if not response.headers.get("content-type", "").startswith("application/problem+json"):
                ledger.unexpected.append(f"503 without a problem body: {response.text[:300]}")
            await asyncio.sleep(min(float(response.headers["retry-after"]), 0.5))


async def withdrawal_target(database_url: str, *, stock: int) -> tuple[uuid.UUID, uuid.UUID]:
    """A product of its own (``stock`` units, grade C) and a vendor qualified for it (grade A)."""
    connection = await asyncpg.connect(database_url)
    try:
        product, vendor = uuid.uuid4(), uuid.uuid4()
        await connection.execute("INSERT INTO vendors (id, qualification) VALUES ($1, 'A')", vendor)
        await connection.execute(
            "INSERT INTO products (id, name, price, quantity, required_qualification) "
            "VALUES ($1, 'careful clients target', $2, $3, 'C')",
            product,
            Decimal("1.00"),
            stock,
        )
        return product, vendor
    finally:
        await connection.close()


@dataclass(frozen=True)
class Audit:
    """The product's rows against the ledger: ``lost`` 201s without a row, rows ``unacknowledged``,
    ids ``applied_twice``, and whether stock equals what it started at less the rows."""

    lost: int
    unacknowledged: int
    applied_twice: int
    stock_adds_up: bool

    @property
    def clean(self) -> bool:
        return not (self.lost or self.unacknowledged or self.applied_twice) and self.stock_adds_up


async def audit(database_url: str, product: uuid.UUID, ledger: Ledger, *, initial_stock: int) -> Audit:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT id, quantity FROM transactions WHERE product_id = $1", product)
        stock = await connection.fetchval("SELECT quantity FROM products WHERE id = $1", product)
    finally:
        await connection.close()
    recorded = [row["id"] for row in rows]
    return Audit(
        lost=len(ledger.acknowledged - set(recorded)),
        unacknowledged=len(set(recorded) - ledger.acknowledged),
        applied_twice=len(recorded) - len(set(recorded)),
        stock_adds_up=stock == initial_stock - sum(row["quantity"] for row in rows),
    )
