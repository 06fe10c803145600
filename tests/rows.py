"""The rows tests need, one way to make each, and the body of a stock movement.

The same factories write through the session's asyncpg pool (tests that call the API) or through a
connection whose transaction is rolled back after the test (tests/inventory): only how a statement
is executed differs, so each row's SQL and defaults exist once.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Protocol

from suppliers.auth.passwords import hash_password
from suppliers.inventory.qualification import Qualification

# Runs one statement with $1, $2… placeholders and its arguments.
Execute = Callable[[str, Sequence[object]], Awaitable[object]]


class MakeVendor(Protocol):
    async def __call__(self, qualification: Qualification = "A") -> uuid.UUID: ...


class MakeProduct(Protocol):
    async def __call__(
        self, quantity: int = 100, required: Qualification = "C", name: str | None = None
    ) -> uuid.UUID: ...


class MakeUser(Protocol):
    """A user acting for ``vendor_id`` (or an operator); the password is the username."""

    async def __call__(self, vendor_id: uuid.UUID | None, role: str = "vendor") -> str: ...


def vendor_maker(execute: Execute) -> MakeVendor:
    async def make(qualification: Qualification = "A") -> uuid.UUID:
        vendor_id = uuid.uuid4()
        await execute("INSERT INTO vendors (id, qualification) VALUES ($1, $2)", (vendor_id, qualification))
        return vendor_id

    return make


def product_maker(execute: Execute) -> MakeProduct:
    async def make(quantity: int = 100, required: Qualification = "C", name: str | None = None) -> uuid.UUID:
        product_id = uuid.uuid4()
        await execute(
            "INSERT INTO products (id, name, price, quantity, required_qualification) VALUES ($1, $2, $3, $4, $5)",
            (product_id, name or f"test product {product_id.hex[:8]}", Decimal("9.99"), quantity, required),
        )
        return product_id

    return make


def user_maker(execute: Execute) -> MakeUser:
    async def make(vendor_id: uuid.UUID | None, role: str = "vendor") -> str:
        username = f"u{uuid.uuid4().hex[:12]}"
        await execute(
            "INSERT INTO users (username, password_hash, vendor_id, role) VALUES ($1, $2, $3, $4)",
            (username, hash_password(username), vendor_id, role),
        )
        return username

    return make
