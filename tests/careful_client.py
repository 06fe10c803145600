"""A careful client of POST /transactions, for the fault tests: what it was told, and how it retries."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx


@dataclass
class Ledger:
    """What the clients were told: every id acknowledged (201), and every other answer."""

    acknowledged: set[uuid.UUID] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    unexpected: list[str] = field(default_factory=list)


@dataclass
class Withdrawal:
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
        """The same id until the service says 201, waiting as Retry-After asks."""
        body = {
            "id": str(transaction_id),
            "product_id": str(self.product),
            "vendor_id": str(self.vendor),
            "action": "withdrawal",
            "quantity": 1,
        }
        ledger = self.ledger
        while True:
            try:
                response = await self.http.post("/transactions", json=body, headers=self.headers)
            except httpx.TransportError:
                ledger.transport_errors += 1
                await asyncio.sleep(0.2)
                continue
            ledger.statuses[response.status_code] += 1
            if response.status_code == 201:
                ledger.acknowledged.add(transaction_id)
                return
            if self.balancer and response.status_code == 502:
                await asyncio.sleep(0.1)
                continue
            if response.status_code != 503 or "retry-after" not in response.headers:
                ledger.unexpected.append(f"{response.status_code} {response.headers} {response.text}")
                return
            if not response.headers["content-type"].startswith("application/problem+json"):
                ledger.unexpected.append(f"503 without a problem body: {response.text}")
            await asyncio.sleep(min(float(response.headers["retry-after"]), 0.5))
