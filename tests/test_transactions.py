"""POST /transactions: every rule, atomicity, idempotency and concurrent withdrawals."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest

from suppliers.devtools.withdrawals import transaction_body
from suppliers.inventory.qualification import Qualification
from tests.conftest import login, stock_of
from tests.rows import MakeProduct, MakeUser, MakeVendor

body = transaction_body


async def lines_of(db: asyncpg.Pool, product_id: uuid.UUID) -> int:
    return int(await db.fetchval("SELECT count(*) FROM transactions WHERE product_id = $1", product_id))


async def test_withdrawal_lowers_stock_and_records_the_line(
    client: httpx.AsyncClient,
    operator: dict[str, str],
    make_vendor: MakeVendor,
    make_product: MakeProduct,
    db: asyncpg.Pool,
) -> None:
    vendor, product = await make_vendor("A"), await make_product(quantity=10)
    response = await client.post("/transactions", json=body(product, vendor, quantity=3), headers=operator)
    assert response.status_code == 201, response.text
    stored = response.json()
    assert stored["action"] == "withdrawal" and stored["quantity"] == 3
    assert stored["product_id"] == str(product) and stored["vendor_id"] == str(vendor)
    assert await stock_of(db, product) == 7
    row = await db.fetchrow("SELECT * FROM transactions WHERE id = $1", uuid.UUID(stored["id"]))
    assert row is not None and row["quantity"] == 3 and row["action"] == "withdrawal"


async def test_addition_raises_stock(
    client: httpx.AsyncClient,
    operator: dict[str, str],
    make_vendor: MakeVendor,
    make_product: MakeProduct,
    db: asyncpg.Pool,
) -> None:
    vendor, product = await make_vendor("C"), await make_product(quantity=0)
    response = await client.post(
        "/transactions", json=body(product, vendor, "addition", 40), headers=operator
    )
    assert response.status_code == 201, response.text
    assert await stock_of(db, product) == 40


async def test_stock_may_reach_exactly_zero_but_not_below(
    client: httpx.AsyncClient,
    operator: dict[str, str],
    make_vendor: MakeVendor,
    make_product: MakeProduct,
    db: asyncpg.Pool,
) -> None:
    vendor, product = await make_vendor("A"), await make_product(quantity=5)
    assert (
        await client.post("/transactions", json=body(product, vendor, quantity=5), headers=operator)
    ).status_code == 201
    assert await stock_of(db, product) == 0
    refused = await client.post("/transactions", json=body(product, vendor, quantity=1), headers=operator)
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "0 units in stock" in refused.json()["detail"]
    assert await stock_of(db, product) == 0
    assert await lines_of(db, product) == 1  # the refused withdrawal left no line behind


@pytest.mark.parametrize(
    ("vendor_grade", "required", "allowed"),
    [
        ("A", "A", True),
        ("A", "C", True),
        ("B", "B", True),
        ("B", "A", False),
        ("C", "B", False),
        ("C", "C", True),
    ],
)
async def test_qualification_order(
    client: httpx.AsyncClient,
    operator: dict[str, str],
    make_vendor: MakeVendor,
    make_product: MakeProduct,
    db: asyncpg.Pool,
    vendor_grade: Qualification,
    required: Qualification,
    allowed: bool,
) -> None:
    vendor, product = await make_vendor(vendor_grade), await make_product(quantity=10, required=required)
    response = await client.post("/transactions", json=body(product, vendor), headers=operator)
    assert response.status_code == (201 if allowed else 403), response.text
    assert await stock_of(db, product) == (9 if allowed else 10)
    if not allowed:
        assert f"requires {required}" in response.json()["detail"]


async def test_unknown_product_or_vendor_is_404(
    client: httpx.AsyncClient, operator: dict[str, str], make_vendor: MakeVendor, make_product: MakeProduct
) -> None:
    vendor, product = await make_vendor("A"), await make_product()
    missing = uuid.uuid4()
    no_product = await client.post("/transactions", json=body(missing, vendor), headers=operator)
    assert no_product.status_code == 404 and f"product {missing}" in no_product.json()["detail"]
    no_vendor = await client.post("/transactions", json=body(product, missing), headers=operator)
    assert no_vendor.status_code == 404 and f"vendor {missing}" in no_vendor.json()["detail"]


async def test_a_vendor_user_acts_only_for_its_own_vendor(
    client: httpx.AsyncClient,
    make_vendor: MakeVendor,
    make_product: MakeProduct,
    make_user: MakeUser,
    db: asyncpg.Pool,
) -> None:
    mine, theirs, product = await make_vendor("A"), await make_vendor("A"), await make_product(quantity=10)
    headers = await login(client, await make_user(mine))
    refused = await client.post("/transactions", json=body(product, theirs), headers=headers)
    assert refused.status_code == 403
    assert await stock_of(db, product) == 10
    assert (await client.post("/transactions", json=body(product, mine), headers=headers)).status_code == 201


async def test_same_id_and_body_is_replayed_once(
    client: httpx.AsyncClient,
    operator: dict[str, str],
    make_vendor: MakeVendor,
    make_product: MakeProduct,
    db: asyncpg.Pool,
) -> None:
    vendor, product = await make_vendor("A"), await make_product(quantity=10)
    request = body(product, vendor, quantity=4, id=str(uuid.uuid4()))
    first = await client.post("/transactions", json=request, headers=operator)
    again = await client.post("/transactions", json=request, headers=operator)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.json() == first.json()
    assert await stock_of(db, product) == 6
    assert await lines_of(db, product) == 1


async def test_same_id_with_another_body_is_409(
    client: httpx.AsyncClient,
    operator: dict[str, str],
    make_vendor: MakeVendor,
    make_product: MakeProduct,
    db: asyncpg.Pool,
) -> None:
    vendor, product = await make_vendor("A"), await make_product(quantity=10)
    transaction_id = str(uuid.uuid4())
    assert (
        await client.post(
            "/transactions", json=body(product, vendor, quantity=1, id=transaction_id), headers=operator
        )
    ).status_code == 201
    clash = await client.post(
        "/transactions", json=body(product, vendor, quantity=2, id=transaction_id), headers=operator
    )
    assert clash.status_code == 409 and "another body" in clash.json()["detail"]
    assert await stock_of(db, product) == 9


async def test_one_id_may_cover_several_products(
    client: httpx.AsyncClient, operator: dict[str, str], make_vendor: MakeVendor, make_product: MakeProduct
) -> None:
    vendor, first, second = await make_vendor("A"), await make_product(), await make_product()
    transaction_id = str(uuid.uuid4())
    for product in (first, second):
        response = await client.post(
            "/transactions", json=body(product, vendor, id=transaction_id), headers=operator
        )
        assert response.status_code == 201
    detail = await client.get(f"/transactions/{transaction_id}", headers=operator)
    assert detail.status_code == 200
    assert {line["product_id"] for line in detail.json()["lines"]} == {str(first), str(second)}


async def test_an_addition_past_the_column_limit_is_409_and_changes_nothing(
    client: httpx.AsyncClient,
    operator: dict[str, str],
    make_vendor: MakeVendor,
    make_product: MakeProduct,
    db: asyncpg.Pool,
) -> None:
    vendor, product = await make_vendor("A"), await make_product(quantity=2**31 - 10)
    response = await client.post(
        "/transactions", json=body(product, vendor, "addition", 1000), headers=operator
    )
    assert response.status_code == 409, response.text
    assert await stock_of(db, product) == 2**31 - 10
    assert await lines_of(db, product) == 0


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        b'{"product_id": 5}',
        b'{"product_id": "nope", "vendor_id": "nope", "action": "withdrawal", "quantity": 1}',
        b'{"product_id": "%(p)s", "vendor_id": "%(v)s", "action": "steal", "quantity": 1}',
        b'{"product_id": "%(p)s", "vendor_id": "%(v)s", "action": "withdrawal", "quantity": 0}',
        b'{"product_id": "%(p)s", "vendor_id": "%(v)s", "action": "withdrawal", "quantity": -3}',
        b'{"product_id": "%(p)s", "vendor_id": "%(v)s", "action": "withdrawal", "quantity": 1.5}',
        b'{"product_id": "%(p)s", "vendor_id": "%(v)s", "action": "withdrawal", "quantity": 99999999999999999999999}',
        b'{"product_id": "%(p)s", "vendor_id": "%(v)s", "action": "withdrawal", "quantity": 1, "extra": true}',
        b"\xff\xfe garbage",
    ],
)
async def test_malformed_bodies_are_422_problems_and_change_nothing(
    client: httpx.AsyncClient,
    operator: dict[str, str],
    make_vendor: MakeVendor,
    make_product: MakeProduct,
    db: asyncpg.Pool,
    payload: bytes,
) -> None:
    vendor, product = await make_vendor("A"), await make_product(quantity=10)
    content = payload.replace(b"%(p)s", str(product).encode()).replace(b"%(v)s", str(vendor).encode())
    response = await client.post(
        "/transactions", content=content, headers={**operator, "content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["status"] == 422 and problem["detail"]
    assert await stock_of(db, product) == 10


async def test_concurrent_withdrawals_never_oversell(
    api: object,
    operator: dict[str, str],
    make_vendor: MakeVendor,
    make_product: MakeProduct,
    db: asyncpg.Pool,
) -> None:
    """60 parallel withdrawals of 1 unit from a product holding 25: exactly 25 succeed."""
    vendor, product = await make_vendor("A"), await make_product(quantity=25)
    limits = httpx.Limits(max_connections=60)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=60, limits=limits) as http:  # type: ignore[attr-defined]
        responses = await asyncio.gather(
            *(http.post("/transactions", json=body(product, vendor), headers=operator) for _ in range(60))
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 25, statuses
    assert statuses.count(409) == 35, statuses
    assert await stock_of(db, product) == 0
    assert await lines_of(db, product) == 25


async def test_concurrent_retries_of_one_transaction_apply_once(
    api: object,
    operator: dict[str, str],
    make_vendor: MakeVendor,
    make_product: MakeProduct,
    db: asyncpg.Pool,
) -> None:
    vendor, product = await make_vendor("A"), await make_product(quantity=100)
    request = body(product, vendor, quantity=10, id=str(uuid.uuid4()))
    async with httpx.AsyncClient(base_url=api.base_url, timeout=60) as http:  # type: ignore[attr-defined]
        responses = await asyncio.gather(
            *(http.post("/transactions", json=request, headers=operator) for _ in range(20))
        )
    assert {r.status_code for r in responses} == {201}
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 19
    assert await stock_of(db, product) == 90
