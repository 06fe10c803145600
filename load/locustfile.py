"""Load scenarios for the suppliers API: the old demo's client scripts, replayed with Locust, fixed.

    LowUser       ~1 withdrawal per second per user (the old 00-post_transactions_low)
    ErrorsUser    unknown vendor, unqualified vendor, oversized withdrawal, malformed body: each
                  answered with the 4xx the rules promise, which counts as a success here
    HighUser      withdrawals as fast as the API answers (02-post_transactions_high)
    ResupplyUser  PUT /products/quantity every 30 s (03-resupply_products)
    MixedUser     browse, look up, list transactions, withdraw, add, and now and then sign in again

Headless: `make load SCENARIO=mixed USERS=20 DURATION=2m BASE_URL=http://127.0.0.1:5001`.
Web UI: the compose stack's Locust (http://localhost:8089) with the class picker.
"""

from __future__ import annotations

import itertools
import random
import uuid
from typing import Any

from account import OPERATOR, VENDOR_USERS, Account, transaction
from locust import HttpUser, between, constant, constant_pacing, task

TRANSACTIONS = "/transactions"


def expect(response: Any, *statuses: int) -> None:
    """Count the response as a success only if its status is one the scenario expects."""
    if response.status_code in statuses:
        response.success()
    else:
        response.failure(
            f"expected {' or '.join(map(str, statuses))}, got {response.status_code}: {response.text[:200]}"
        )


class SuppliersUser(HttpUser):
    """Signs in as a random demo vendor user and withdraws from products that vendor may handle."""

    abstract = True
    username: str | None = None

    def on_start(self) -> None:
        self.account = Account(self.client, self.username or random.choice(VENDOR_USERS))
        self.account.sign_in()

    def post_transaction(self, label: str, body: Any, *statuses: int) -> None:
        """POST /transactions, counted under "/transactions (label)", a success if its status is expected."""
        with self.client.post(
            TRANSACTIONS,
            json=body,
            headers=self.account.auth(),
            name=f"/transactions ({label})",
            catch_response=True,
        ) as response:
            expect(response, *statuses)

    def withdraw(self, quantity: int = 1) -> None:
        body = transaction(self.account.random_product(), self.account.vendor_id, quantity=quantity)
        # 409: that product ran out; a real outcome under load, the resupply job refills it.
        self.post_transaction("withdrawal", body, 201, 409)


class LowUser(SuppliersUser):
    wait_time = constant_pacing(1)

    @task
    def withdraw_one(self) -> None:
        self.withdraw()


class HighUser(SuppliersUser):
    wait_time = constant(0)

    @task
    def withdraw_one(self) -> None:
        self.withdraw()


class ResupplyUser(SuppliersUser):
    """Resupply is an operator's job (a vendor user gets 403): signs in as the operator."""

    wait_time = constant_pacing(30)
    username = OPERATOR

    @task
    def resupply(self) -> None:
        with self.client.put(
            "/products/quantity", headers=self.account.auth(), catch_response=True
        ) as response:
            expect(response, 200)


class ErrorsUser(SuppliersUser):
    """Requests the rules refuse. Acts as the operator, who may act for any vendor, to reach each rule."""

    wait_time = between(0.2, 1.0)
    username = OPERATOR

    def on_start(self) -> None:
        super().on_start()
        auth = self.account.auth()
        c_vendors = self.client.get(
            "/vendors?qualification=C&limit=20", headers=auth, name="/vendors?qualification"
        )
        self.c_vendor = random.choice(c_vendors.json()["items"])["id"]
        self.a_products = self.account.products_requiring("A", limit=50)
        self.cases = itertools.cycle(
            [self.unknown_vendor, self.unqualified_vendor, self.oversized_withdrawal, self.malformed_body]
        )

    @task
    def next_refusal(self) -> None:
        # In turn rather than at random, so even a short run meets every rule.
        case = next(self.cases)
        case()

    def unknown_vendor(self) -> None:
        self.post_transaction(
            "unknown vendor", transaction(self.account.random_product(), str(uuid.uuid4())), 404
        )

    def unqualified_vendor(self) -> None:
        self.post_transaction(
            "unqualified vendor", transaction(random.choice(self.a_products), self.c_vendor), 403
        )

    def oversized_withdrawal(self) -> None:
        body = transaction(self.account.random_product(), self.account.vendor_id, quantity=1_000_000)
        self.post_transaction("oversized withdrawal", body, 409)

    def malformed_body(self) -> None:
        body = {
            "product_id": "not-a-uuid",
            "vendor_id": self.account.vendor_id,
            "action": "lend",
            "quantity": -1,
        }
        self.post_transaction("malformed body", body, 422)


class MixedUser(SuppliersUser):
    """A day at the warehouse: mostly reading, some withdrawals, a few additions and sign-ins."""

    wait_time = between(0.5, 2)

    @task(10)
    def browse_products(self) -> None:
        offset = random.randrange(0, 5000, 20)
        self.client.get(f"/products?limit=20&offset={offset}", headers=self.account.auth(), name="/products")

    @task(4)
    def look_at_a_product(self) -> None:
        product = self.account.random_product()
        self.client.get(f"/products/{product}", headers=self.account.auth(), name="/products/{product_id}")

    @task(3)
    def list_my_transactions(self) -> None:
        self.client.get(
            f"/transactions?vendor_id={self.account.vendor_id}&limit=20",
            headers=self.account.auth(),
            name="/transactions?vendor_id",
        )

    @task(4)
    def withdraw_some(self) -> None:
        self.withdraw(quantity=random.randint(1, 3))

    @task(1)
    def add_some(self) -> None:
        body = transaction(
            self.account.random_product(),
            self.account.vendor_id,
            action="addition",
            quantity=random.randint(5, 20),
        )
        self.post_transaction("addition", body, 201)

    @task(1)
    def sign_in_again(self) -> None:
        self.account.log_in()
