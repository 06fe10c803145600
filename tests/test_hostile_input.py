"""Input an attacker sends: every one is a clear 4xx problem that changes nothing, never a 500.

Deep nesting, oversized bodies, NUL bytes and control characters, instants outside what PostgreSQL
stores, forged tokens; then hypothesis throws hostile values at every query parameter and body
field the OpenAPI schema declares.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import TEST_JWT_SECRET, login, stock_of
from tests.rows import MakeProduct, MakeVendor
from tests.servers import ApiProcess

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status and problem["detail"]
    return problem


@pytest.mark.parametrize(
    "payload",
    [
        b"[" * 2000 + b"]" * 2000,
        b'{"a":' * 2000 + b"1" + b"}" * 2000,
        b'{"product_id": ' + b"[" * 100 + b"]" * 100 + b"}",
    ],
    ids=["arrays", "objects", "nested-field"],
)
async def test_deeply_nested_json_is_422(
    client: httpx.AsyncClient, operator: dict[str, str], payload: bytes
) -> None:
    response = await client.post(
        "/transactions", content=payload, headers={**operator, "content-type": "application/json"}
    )
    problem = assert_problem(response, 422)
    assert "nested deeper" in problem["detail"]


async def test_brackets_inside_strings_are_not_nesting(
    client: httpx.AsyncClient, operator: dict[str, str], make_vendor: MakeVendor, make_product: MakeProduct
) -> None:
    """The depth guard reads structure, not characters: a string full of brackets is just a bad field."""
    vendor, product = await make_vendor("A"), await make_product()
    body = {"product_id": str(product), "vendor_id": str(vendor), "action": "[" * 500, "quantity": 1}
    response = await client.post("/transactions", json=body, headers=operator)
    problem = assert_problem(response, 422)
    assert "nested deeper" not in problem["detail"]


async def test_an_oversized_body_is_refused(client: httpx.AsyncClient, operator: dict[str, str]) -> None:
    padding = "x" * (70 * 1024)
    response = await client.post("/transactions", json={"pad": padding}, headers=operator)
    assert_problem(response, 413)


@pytest.mark.parametrize("username", ["e\x00", "\x00", "a\x00b", "tab\there", "bell\x07"])
async def test_control_characters_in_a_username_are_422(client: httpx.AsyncClient, username: str) -> None:
    response = await client.post("/login/token", data={"username": username, "password": "x"})
    assert_problem(response, 422)


async def test_a_nul_in_a_password_is_just_a_wrong_password(client: httpx.AsyncClient) -> None:
    response = await client.post("/login/token", data={"username": "c", "password": "c\x00"})
    assert_problem(response, 401)


@pytest.mark.parametrize(
    "instant",
    [
        "9999-12-31T23:59:59-12:00",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59.999999-00:01",
        "10000-01-01T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-01-01T00:00:00\x00Z",
        "1700000000",
    ],
)
@pytest.mark.parametrize("parameter", ["since", "until"])
async def test_instants_postgresql_cannot_compare_are_422(
    client: httpx.AsyncClient, operator: dict[str, str], parameter: str, instant: str
) -> None:
    response = await client.get("/transactions", params={parameter: instant}, headers=operator)
    problem = assert_problem(response, 422)
    assert parameter in problem["detail"]


@pytest.mark.parametrize(
    "instant", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-01-31T12:00:00+14:00"]
)
async def test_the_extremes_that_fit_are_answered(
    client: httpx.AsyncClient, operator: dict[str, str], instant: str
) -> None:
    response = await client.get("/transactions", params={"since": instant, "limit": 1}, headers=operator)
    assert response.status_code == 200, response.text


def _token(claims: dict[str, Any], secret: str = TEST_JWT_SECRET, algorithm: str = "HS256") -> str:
    base = {"exp": 4102444800, "iat": 1700000000, "sub": "a", "jti": uuid.uuid4().hex}
    return jwt.encode({**base, **claims}, secret, algorithm=algorithm)


@pytest.mark.parametrize(
    "token",
    [
        _token({"sub": "a\x00"}),
        _token({"sub": "\x00"}),
        _token({"sub": "a" * 5000}),
        _token({"jti": "\x00" * 32}),
        _token({"jti": "' OR 1=1 --"}),
        _token({"jti": None}),
        _token({"sub": "ghost-user-that-does-not-exist"}),
        _token({"exp": 1}),
        _token({}, secret="a-secret-that-is-not-the-api-s-own-key-at-all"),
        jwt.encode({"sub": "a", "jti": uuid.uuid4().hex, "exp": 4102444800}, key="", algorithm="none"),
    ],
    ids=[
        "nul-sub",
        "only-nul-sub",
        "huge-sub",
        "nul-jti",
        "sql-jti",
        "no-jti",
        "unknown-user",
        "expired",
        "wrong-key",
        "alg-none",
    ],
)
async def test_forged_and_malformed_tokens_are_401(client: httpx.AsyncClient, token: str) -> None:
    for path in ("/vendors", "/transactions", "/login/me"):
        response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert_problem(response, 401)


async def test_a_well_formed_token_signed_with_the_key_works(client: httpx.AsyncClient) -> None:
    """The control for the test above: it is the claims that are refused, not forging as such."""
    headers = await login(client, "a")
    assert (await client.get("/login/me", headers=headers)).status_code == 200


# ------------------------------------------------------------------------- fuzzing by schema

HOSTILE_TEXT = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.sampled_from(
        [
            "\x00",
            "a\x00b",
            "%00",
            "\\",
            "%",
            "_",
            "' OR '1'='1",
            "[" * 100,
            "9" * 400,
            "-1",
            "-9223372036854775809",
            "1e309",
            "NaN",
            "9999-12-31T23:59:59-12:00",
            "0001-01-01T00:00:00+14:00",
            "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
            "x" * 300,
        ]
    ),
)
HOSTILE_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | HOSTILE_TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(HOSTILE_TEXT, children, max_size=3),
    max_leaves=8,
)


@pytest.fixture(scope="module", autouse=True)
async def forget_login_attempts(redis_url: str) -> AsyncIterator[None]:
    """The login fuzzing counts failed attempts, also for demo users other tests sign in as."""
    yield
    cache = aioredis.from_url(redis_url)
    try:
        keys = [key async for key in cache.scan_iter("suppliers:login-attempts:*")]
        if keys:
            await cache.delete(*keys)
    finally:
        await cache.aclose()


@pytest.fixture(scope="module")
def schema(api: ApiProcess) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(f"{api.base_url}/schema/openapi.json", timeout=10).json()
    return document


@pytest.fixture(scope="module")
def sync_client(api: ApiProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.base_url, timeout=30) as http:
        token = http.post("/login/token", data={"username": "a", "password": "a"}).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        yield http


def query_operations(schema: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """GET routes with their query parameters (path parameters filled with a fresh uuid)."""
    found = []
    for path, item in schema["paths"].items():
        operation = item.get("get")
        if not operation or path.startswith(("/playground", "/hello")):
            continue  # the playground and /hello sleep on purpose: fuzzing them only waits
        names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
        found.append((path, names))
    return found


def _fill_path(path: str) -> str:
    return "/".join(str(uuid.uuid4()) if part.startswith("{") else part for part in path.split("/"))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_no_query_parameter_value_makes_a_server_error(
    sync_client: httpx.Client, schema: dict[str, Any], data: st.DataObject
) -> None:
    path, names = data.draw(st.sampled_from(query_operations(schema)))
    params = {name: data.draw(HOSTILE_TEXT) for name in names if data.draw(st.booleans())}
    response = sync_client.get(_fill_path(path), params=params)
    assert response.status_code < 500, (path, params, response.text)
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith(PROBLEM)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "id": HOSTILE_JSON,
            "product_id": HOSTILE_JSON,
            "vendor_id": HOSTILE_JSON,
            "action": HOSTILE_JSON,
            "quantity": HOSTILE_JSON,
        },
    )
    | HOSTILE_JSON
)
def test_no_transaction_body_makes_a_server_error(sync_client: httpx.Client, body: Any) -> None:
    response = sync_client.post(
        "/transactions", content=json.dumps(body), headers={"content-type": "application/json"}
    )
    # A random body cannot name a real product: nothing is ever created.
    assert response.status_code in (403, 404, 409, 422), (body, response.text)
    assert response.headers["content-type"].startswith(PROBLEM)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(username=HOSTILE_TEXT, password=HOSTILE_TEXT)
def test_no_login_form_makes_a_server_error(sync_client: httpx.Client, username: str, password: str) -> None:
    response = sync_client.post("/login/token", data={"username": username, "password": password})
    assert response.status_code in (200, 401, 422, 429), (username, password, response.text)


async def test_hostile_input_changed_nothing(
    client: httpx.AsyncClient, operator: dict[str, str], make_product: MakeProduct, db: asyncpg.Pool
) -> None:
    """After all of the above, an ordinary product is as it was and new lines are only those of tests."""
    product = await make_product(quantity=7)
    await client.post(
        "/transactions",
        content=b'{"product_id": "' + str(product).encode() + b'", "quantity": ' + b"[" * 3000,
        headers={**operator, "content-type": "application/json"},
    )
    assert await stock_of(db, product) == 7
