"""Roles (SPEC "Roles"): what a vendor user may see and do, and whose a transaction id is."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest

from tests.conftest import login, stock_of
from tests.rows import MakeProduct, MakeUser, MakeVendor
from tests.test_transactions import body, lines_of


@pytest.fixture
async def two_vendors(
    client: httpx.AsyncClient, make_vendor: MakeVendor, make_user: MakeUser
) -> tuple[tuple[uuid.UUID, dict[str, str]], tuple[uuid.UUID, dict[str, str]]]:
    """Two vendors (A-qualified), each with a signed-in user of its own."""
    first, second = await make_vendor("A"), await make_vendor("A")
    return (
        (first, await login(client, await make_user(first))),
        (second, await login(client, await make_user(second))),
    )


async def test_an_id_belongs_to_the_vendor_that_first_used_it(
    client: httpx.AsyncClient,
    two_vendors: tuple[tuple[uuid.UUID, dict[str, str]], tuple[uuid.UUID, dict[str, str]]],
    make_product: MakeProduct,
    db: asyncpg.Pool,
) -> None:
    (owner, owner_headers), (other, other_headers) = two_vendors
    product, another_product = await make_product(quantity=10), await make_product(quantity=10)
    transaction_id = str(uuid.uuid4())
    first = await client.post(
        "/transactions", json=body(product, owner, quantity=3, id=transaction_id), headers=owner_headers
    )
    assert first.status_code == 201
    for target in (product, another_product):  # the same line, or a new line under the same id
        clash = await client.post(
            "/transactions", json=body(target, other, quantity=3, id=transaction_id), headers=other_headers
        )
        assert clash.status_code == 409, clash.text
        detail = clash.json()["detail"]
        # Nothing about the owner: not its id, not what it did, not how much.
        assert str(owner) not in detail and "withdrawal" not in detail and " 3 " not in f" {detail} "
    assert await stock_of(db, product) == 7 and await stock_of(db, another_product) == 10
    assert await lines_of(db, another_product) == 0
    # The owner may still add lines under its own id.
    more = await client.post(
        "/transactions", json=body(another_product, owner, id=transaction_id), headers=owner_headers
    )
    assert more.status_code == 201


async def test_two_vendors_racing_for_a_new_id_get_one_owner(
    api: object,
    two_vendors: tuple[tuple[uuid.UUID, dict[str, str]], tuple[uuid.UUID, dict[str, str]]],
    make_product: MakeProduct,
    db: asyncpg.Pool,
) -> None:
    (first, first_headers), (second, second_headers) = two_vendors
    products = [await make_product(quantity=100) for _ in range(10)]
    transaction_id = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=api.base_url, timeout=60) as http:  # type: ignore[attr-defined]
        responses = await asyncio.gather(
            *(
                http.post(
                    "/transactions",
                    json=body(product, vendor, id=transaction_id),
                    headers=headers,
                )
                for product in products
                for vendor, headers in ((first, first_headers), (second, second_headers))
            )
        )
    owners = await db.fetch(
        "SELECT DISTINCT vendor_id FROM transactions WHERE id = $1", uuid.UUID(transaction_id)
    )
    assert len(owners) == 1
    winner = owners[0]["vendor_id"]
    statuses = [(r.status_code, r.json().get("vendor_id")) for r in responses]
    assert sorted(s for s, _ in statuses) == [201] * 10 + [409] * 10
    assert {vendor for status, vendor in statuses if status == 201} == {str(winner)}


async def test_a_vendor_user_lists_only_its_own_vendor_s_transactions(
    client: httpx.AsyncClient,
    operator: dict[str, str],
    two_vendors: tuple[tuple[uuid.UUID, dict[str, str]], tuple[uuid.UUID, dict[str, str]]],
    make_product: MakeProduct,
) -> None:
    (mine, my_headers), (theirs, their_headers) = two_vendors
    product = await make_product(quantity=20)
    for vendor, headers in ((mine, my_headers), (theirs, their_headers)):
        response = await client.post("/transactions", json=body(product, vendor), headers=headers)
        assert response.status_code == 201
    listed = (await client.get("/transactions?limit=1000", headers=my_headers)).json()
    assert listed["items"] and {line["vendor_id"] for line in listed["items"]} == {str(mine)}
    assert listed["total"] == len(listed["items"])
    by_product = (await client.get(f"/transactions?product_id={product}", headers=my_headers)).json()
    assert [line["vendor_id"] for line in by_product["items"]] == [str(mine)]
    asking_for_theirs = await client.get(f"/transactions?vendor_id={theirs}", headers=my_headers)
    assert asking_for_theirs.status_code == 403
    assert (await client.get(f"/transactions?vendor_id={mine}", headers=my_headers)).status_code == 200
    # The operator sees both.
    both = (await client.get(f"/transactions?product_id={product}", headers=operator)).json()
    assert {line["vendor_id"] for line in both["items"]} == {str(mine), str(theirs)}


async def test_another_vendor_s_transaction_is_a_404(
    client: httpx.AsyncClient,
    operator: dict[str, str],
    two_vendors: tuple[tuple[uuid.UUID, dict[str, str]], tuple[uuid.UUID, dict[str, str]]],
    make_product: MakeProduct,
) -> None:
    (mine, my_headers), (_, their_headers) = two_vendors
    transaction_id = str(uuid.uuid4())
    response = await client.post(
        "/transactions", json=body(await make_product(), mine, id=transaction_id), headers=my_headers
    )
    assert response.status_code == 201
    assert (await client.get(f"/transactions/{transaction_id}", headers=my_headers)).status_code == 200
    theirs = await client.get(f"/transactions/{transaction_id}", headers=their_headers)
    nobody_s = uuid.uuid4()
    missing = await client.get(f"/transactions/{nobody_s}", headers=their_headers)
    assert theirs.status_code == missing.status_code == 404
    # Word for word the answer for an id that does not exist: no hint that this one does.
    assert theirs.json()["detail"] == missing.json()["detail"].replace(str(nobody_s), transaction_id)
    assert (await client.get(f"/transactions/{transaction_id}", headers=operator)).status_code == 200


async def test_system_resupply_ids_are_nobody_s_to_reuse(
    client: httpx.AsyncClient,
    operator: dict[str, str],
    two_vendors: tuple[tuple[uuid.UUID, dict[str, str]], tuple[uuid.UUID, dict[str, str]]],
    make_product: MakeProduct,
    db: asyncpg.Pool,
) -> None:
    """An id the resupply used (the operator's vendor) cannot carry a vendor user's line."""
    (mine, my_headers), _ = two_vendors
    low = await make_product(quantity=1)
    resupplied = (await client.put("/products/quantity", headers=operator)).json()
    assert resupplied["count"] >= 1
    reuse = await client.post(
        "/transactions", json=body(low, mine, id=resupplied["transaction_id"]), headers=my_headers
    )
    assert reuse.status_code == 409
    assert await stock_of(db, low) == 51
