"""Lists with filters and pagination, lookups by id, public routes."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest

from tests.conftest import TEST_PRODUCTS, TEST_VENDORS
from tests.rows import MakeProduct


async def test_public_routes_need_no_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/")).json() == {"message": "Hello World!"}
    hello = await client.get("/hello", params={"delay": 0})
    assert hello.status_code == 200 and hello.text == "Hello World!"
    assert (await client.get("/health/live")).status_code == 200
    assert (await client.get("/schema/openapi.json")).status_code == 200
    docs = await client.get("/docs", follow_redirects=True)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


@pytest.mark.parametrize("path", ["/vendors", "/products", "/transactions", f"/products/{uuid.uuid4()}"])
async def test_inventory_routes_need_a_token(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_vendor_list_pages_and_counts(
    client: httpx.AsyncClient, operator: dict[str, str], db: asyncpg.Pool
) -> None:
    total = int(await db.fetchval("SELECT count(*) FROM vendors"))
    assert total >= TEST_VENDORS
    first = (await client.get("/vendors", params={"limit": 10}, headers=operator)).json()
    second = (await client.get("/vendors", params={"limit": 10, "offset": 10}, headers=operator)).json()
    assert first["total"] == second["total"] == total
    assert len(first["items"]) == len(second["items"]) == 10
    assert not {v["id"] for v in first["items"]} & {v["id"] for v in second["items"]}
    past_the_end = (await client.get("/vendors", params={"offset": total + 5}, headers=operator)).json()
    assert past_the_end["items"] == [] and past_the_end["total"] == total


async def test_vendor_filter_and_lookup(
    client: httpx.AsyncClient, operator: dict[str, str], db: asyncpg.Pool
) -> None:
    expected = int(await db.fetchval("SELECT count(*) FROM vendors WHERE qualification = 'B'"))
    page = (
        await client.get("/vendors", params={"qualification": "B", "limit": 1000}, headers=operator)
    ).json()
    assert page["total"] == expected and {v["qualification"] for v in page["items"]} == {"B"}
    vendor = page["items"][0]
    assert (await client.get(f"/vendors/{vendor['id']}", headers=operator)).json() == vendor
    missing = await client.get(f"/vendors/{uuid.uuid4()}", headers=operator)
    assert missing.status_code == 404 and missing.json()["status"] == 404


async def test_product_filters(
    client: httpx.AsyncClient, operator: dict[str, str], db: asyncpg.Pool, make_product: MakeProduct
) -> None:
    low = (await client.get("/products", params={"below": 20, "limit": 1000}, headers=operator)).json()
    assert low["total"] == int(await db.fetchval("SELECT count(*) FROM products WHERE quantity < 20"))
    assert all(p["quantity"] < 20 for p in low["items"])
    graded = (
        await client.get("/products", params={"required_qualification": "A", "limit": 5}, headers=operator)
    ).json()
    assert {p["required_qualification"] for p in graded["items"]} == {"A"}
    marker = uuid.uuid4().hex[:10]
    product = await make_product(name=f"Widget 100%_{marker}")
    found = (
        await client.get("/products", params={"name": f"100%_{marker.upper()}"}, headers=operator)
    ).json()
    assert [p["id"] for p in found["items"]] == [str(product)]
    # LIKE wildcards in the search are literal characters, not patterns.
    assert (await client.get("/products", params={"name": "%_%_%_%_%_%_%_%"}, headers=operator)).json()[
        "total"
    ] == 0


async def test_product_lookup(
    client: httpx.AsyncClient, operator: dict[str, str], make_product: MakeProduct
) -> None:
    product = await make_product(quantity=12, required="B")
    got = (await client.get(f"/products/{product}", headers=operator)).json()
    assert got["quantity"] == 12 and got["required_qualification"] == "B" and got["price"] == "9.99"
    assert (await client.get(f"/products/{uuid.uuid4()}", headers=operator)).status_code == 404


async def test_sample_data_is_there(client: httpx.AsyncClient, operator: dict[str, str]) -> None:
    assert (await client.get("/products", params={"limit": 1}, headers=operator)).json()[
        "total"
    ] >= TEST_PRODUCTS


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 1001},
        {"limit": "ten"},
        {"offset": -1},
        {"offset": 2**40},
        {"below": -1},
        {"below": "x"},
        {"required_qualification": "D"},
        {"name": "a" * 300},
        {"name": "bad\x00byte"},
    ],
)
async def test_bad_query_parameters_are_422(
    client: httpx.AsyncClient, operator: dict[str, str], params: dict[str, str | int]
) -> None:
    response = await client.get("/products", params=params, headers=operator)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "params",
    [
        {"vendor_id": "nope"},
        {"action": "steal"},
        {"since": "yesterday"},
        {"until": "2024-13-45"},
    ],
)
async def test_bad_transaction_filters_are_422(
    client: httpx.AsyncClient, operator: dict[str, str], params: dict[str, str]
) -> None:
    assert (await client.get("/transactions", params=params, headers=operator)).status_code == 422


async def test_transaction_filters(
    client: httpx.AsyncClient, operator: dict[str, str], make_product: MakeProduct
) -> None:
    vendor = "306c68cb-164e-48ab-bae1-1f4340b2548c"  # demo vendor of user b
    product = await make_product(quantity=50, required="C")
    created = []
    for action in ("withdrawal", "addition", "withdrawal"):
        response = await client.post(
            "/transactions",
            json={"product_id": str(product), "vendor_id": vendor, "action": action, "quantity": 2},
            headers=operator,
        )
        assert response.status_code == 201
        created.append(response.json())
    by_product = (
        await client.get("/transactions", params={"product_id": str(product)}, headers=operator)
    ).json()
    assert by_product["total"] == 3
    dates = [t["transaction_date"] for t in by_product["items"]]
    assert dates == sorted(dates, reverse=True)  # newest first
    withdrawals = (
        await client.get(
            "/transactions",
            params={"product_id": str(product), "action": "withdrawal", "vendor_id": vendor},
            headers=operator,
        )
    ).json()
    assert withdrawals["total"] == 2
    since = created[1]["transaction_date"]
    later = (
        await client.get(
            "/transactions", params={"product_id": str(product), "since": since}, headers=operator
        )
    ).json()
    assert later["total"] == 2
    before = (
        await client.get(
            "/transactions", params={"product_id": str(product), "until": since}, headers=operator
        )
    ).json()
    assert before["total"] == 1
    assert (await client.get(f"/transactions/{uuid.uuid4()}", headers=operator)).status_code == 404
