"""A demo user as a load generator sees it: signed in, renewing its token, knowing what it may touch.

Plain `requests`-style calls on Locust's HttpSession, so the scenarios read as what a client does.
Standalone on purpose: the compose stack's Locust container has this folder, not the `suppliers`
package.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

# Tags every request as synthetic (W3C baggage): the API copies it onto the server span as
# `suppliers.synthetic_request=true`, so load can be told apart from people in trace search.
SYNTHETIC = {"baggage": "synthetic_request=true"}

# Demo vendor users (b … z act each for one vendor; `a` is the operator who may act for any).
VENDOR_USERS = tuple("bcdefghijklmnopqrstuvwxyz")
OPERATOR = "a"

# Grades best first: a vendor handles its own grade and every one after it. The rule lives in
# suppliers/inventory/qualification.py; tests/test_load.py checks this copy against it.
GRADES = "ABC"
HANDLES = {grade: tuple(GRADES[rank:]) for rank, grade in enumerate(GRADES)}


# Renew the token while a safe margin of its lifetime is left (10 %, at least a minute, at most
# half), so no request ever goes out with a token about to expire.
def renewal_margin(lifetime_seconds: float) -> float:
    return min(lifetime_seconds / 2, max(60.0, lifetime_seconds * 0.1))


class Account:
    def __init__(self, client: Any, username: str) -> None:
        self.client = client
        self.username = username
        self.vendor_id = ""
        self.qualification = ""
        self.product_ids: list[str] = []
        self._token = ""
        self._renew_after = 0.0
        self.client.headers.update(SYNTHETIC)

    def sign_in(self) -> None:
        """Log in, learn the vendor and its qualification, and collect products it may move."""
        self.log_in()
        me = self.client.get("/login/me", headers=self.auth()).json()
        self.vendor_id = me["vendor_id"]
        vendor = self.client.get(
            f"/vendors/{self.vendor_id}", headers=self.auth(), name="/vendors/{vendor_id}"
        )
        self.qualification = vendor.json()["qualification"] if vendor.ok else "C"
        self.product_ids = self.products_requiring(*HANDLES[self.qualification])

    def log_in(self) -> None:
        response = self.client.post(
            "/login/token", data={"username": self.username, "password": self.username}, name="/login/token"
        )
        response.raise_for_status()
        token = response.json()
        self._token = token["access_token"]
        lifetime = float(token["expires_in"])
        self._renew_after = time.monotonic() + lifetime - renewal_margin(lifetime)

    def auth(self) -> dict[str, str]:
        if time.monotonic() >= self._renew_after:
            self.log_in()
        return {"Authorization": f"Bearer {self._token}"}

    def products_requiring(self, *qualifications: str, limit: int = 200) -> list[str]:
        ids: list[str] = []
        for qualification in qualifications:
            page = self.client.get(
                f"/products?required_qualification={qualification}&limit={limit}",
                headers=self.auth(),
                name="/products?required_qualification",
            )
            ids += [item["id"] for item in page.json()["items"]]
        return ids

    def random_product(self) -> str:
        return random.choice(self.product_ids)


def transaction(
    product_id: str, vendor_id: str, *, action: str = "withdrawal", quantity: int = 1
) -> dict[str, Any]:
    """A POST /transactions body with a fresh id (a retry of the same id would be a replay)."""
    return {
        "id": str(uuid.uuid4()),
        "product_id": product_id,
        "vendor_id": vendor_id,
        "action": action,
        "quantity": quantity,
    }
