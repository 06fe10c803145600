"""Login, the Redis session cache with its database fallback, logout, and the login rate limit."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import jwt
import pytest
import redis.asyncio as aioredis

from suppliers.auth.secret import development_secret, signing_secret
from suppliers.embedded.postgres import free_port
from suppliers.settings import ConfigurationError, Settings
from tests.conftest import login
from tests.rows import MakeUser, MakeVendor
from tests.servers import ApiProcess


async def test_login_returns_a_bearer_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/login/token", data={"username": "b", "password": "b"})
    assert response.status_code == 200
    token = response.json()
    assert token["token_type"] == "bearer" and token["expires_in"] == 3600
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert claims["sub"] == "b" and claims["jti"]


async def test_me_tells_whom_the_user_acts_for(client: httpx.AsyncClient) -> None:
    vendor = (await client.get("/login/me", headers=await login(client, "b"))).json()
    assert vendor == {"username": "b", "role": "vendor", "vendor_id": "306c68cb-164e-48ab-bae1-1f4340b2548c"}
    operator = (await client.get("/login/me", headers=await login(client, "a"))).json()
    assert operator == {
        "username": "a",
        "role": "operator",
        "vendor_id": "24c8baa4-40db-4dd7-83b7-fd28b09b0155",
    }
    assert (await client.get("/login/me")).status_code == 401


@pytest.mark.parametrize(("username", "password"), [("b", "wrong"), ("nobody-" + uuid.uuid4().hex[:6], "x")])
async def test_wrong_credentials_are_401(client: httpx.AsyncClient, username: str, password: str) -> None:
    response = await client.post("/login/token", data={"username": username, "password": password})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_login_form_must_be_complete(client: httpx.AsyncClient) -> None:
    assert (await client.post("/login/token", data={"username": "b"})).status_code == 422
    assert (await client.post("/login/token", json={"username": "b", "password": "b"})).status_code in {
        415,
        422,
    }


async def test_the_signed_in_user_is_cached_in_redis_with_a_ttl(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    token = (await client.post("/login/token", data={"username": "c", "password": "c"})).json()[
        "access_token"
    ]
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    cache = aioredis.from_url(redis_url)
    try:
        key = f"suppliers:session:{jti}"
        cached = await cache.get(key)
        assert isinstance(cached, bytes) and b'"username":"c"' in cached
        assert 0 < await cache.ttl(key) <= 300
        # A miss falls back to the database and fills the cache again.
        await cache.delete(key)
        response = await client.get(
            "/vendors", params={"limit": 1}, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200
        assert await cache.exists(key)
    finally:
        await cache.aclose()


async def test_logout_revokes_the_token_even_after_the_cache_forgets(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    headers = await login(client, "d")
    assert (await client.get("/vendors", headers=headers)).status_code == 200
    assert (await client.post("/login/logout", headers=headers)).status_code == 204
    assert (await client.get("/vendors", headers=headers)).status_code == 401
    cache = aioredis.from_url(redis_url)
    try:
        await cache.flushdb()  # the database still knows the token is revoked
    finally:
        await cache.aclose()
    assert (await client.get("/vendors", headers=headers)).status_code == 401
    assert (await client.get("/vendors", headers=await login(client, "d"))).status_code == 200


async def test_forged_or_garbage_tokens_are_401(client: httpx.AsyncClient) -> None:
    forged = jwt.encode({"sub": "a", "jti": "x", "exp": 4102444800}, "not-the-secret-" * 4, algorithm="HS256")
    for value in (f"Bearer {forged}", "Bearer garbage", "Basic YTph", "Bearer"):
        assert (await client.get("/vendors", headers={"Authorization": value})).status_code == 401


async def test_brute_force_is_rate_limited(
    client: httpx.AsyncClient, make_vendor: MakeVendor, make_user: MakeUser
) -> None:
    username = await make_user(await make_vendor("C"))
    statuses = [
        (await client.post("/login/token", data={"username": username, "password": "guess"})).status_code
        for _ in range(7)
    ]
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
    blocked = await client.post("/login/token", data={"username": username, "password": username})
    assert blocked.status_code == 429  # even the right password waits out the window
    assert int(blocked.headers["retry-after"]) > 0


async def test_a_deleted_user_loses_access_on_the_next_cache_miss(
    client: httpx.AsyncClient, make_vendor: MakeVendor, make_user: MakeUser, db: asyncpg.Pool, redis_url: str
) -> None:
    username = await make_user(await make_vendor("B"))
    headers = await login(client, username)
    await db.execute("DELETE FROM users WHERE username = $1", username)
    cache = aioredis.from_url(redis_url)
    try:
        token = headers["Authorization"].split()[1]
        await cache.delete(
            f"suppliers:session:{jwt.decode(token, options={'verify_signature': False})['jti']}"
        )
    finally:
        await cache.aclose()
    assert (await client.get("/vendors", headers=headers)).status_code == 401


async def _guess_concurrently(base_url: str, username: str, guesses: int) -> list[int]:
    limits = httpx.Limits(max_connections=guesses)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:
        responses = await asyncio.gather(
            *(
                http.post("/login/token", data={"username": username, "password": f"guess-{attempt}"})
                for attempt in range(guesses)
            )
        )
    return sorted(response.status_code for response in responses)


async def test_concurrent_guesses_cannot_outrun_the_limit(
    api: ApiProcess, make_vendor: MakeVendor, make_user: MakeUser
) -> None:
    """30 wrong passwords at once: the attempts are counted before any is checked, so 5 are."""
    username = await make_user(await make_vendor("C"))
    statuses = await _guess_concurrently(api.base_url, username, 30)
    assert statuses == [401] * 5 + [429] * 25


async def test_without_redis_each_process_still_counts_atomically(
    database_url: str, make_vendor: MakeVendor, make_user: MakeUser, tmp_path: Path
) -> None:
    username = await make_user(await make_vendor("C"))
    process = ApiProcess(
        {"DATABASE_URL": database_url, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"},
        log_path=tmp_path / "api.log",
    ).start()
    try:
        statuses = await _guess_concurrently(process.base_url, username, 30)
    finally:
        process.stop()
    assert statuses == [401] * 5 + [429] * 25


def test_outside_development_serve_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("SUPPLIERS_", "DATABASE_"))
    }
    done = subprocess.run(
        [sys.executable, "-m", "suppliers", "serve"],
        env={**environment, "SUPPLIERS_ENVIRONMENT": "production", "SUPPLIERS_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "SUPPLIERS_JWT_SECRET" in lines[0] and "production" in lines[0], done.stderr
    assert not (tmp_path / "postgres").exists()  # refused before starting anything


def test_development_keeps_one_generated_secret_with_its_data(tmp_path: Path) -> None:
    first = development_secret(tmp_path)
    assert len(first) >= 32 and development_secret(tmp_path) == first
    assert (tmp_path / "jwt-secret").stat().st_mode & 0o777 == 0o600
    assert development_secret(tmp_path / "elsewhere") != first


def test_an_app_without_a_secret_signs_with_a_key_of_its_own() -> None:
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/none")
    assert signing_secret(settings) != signing_secret(settings)
    with pytest.raises(ConfigurationError, match="SUPPLIERS_JWT_SECRET"):
        signing_secret(settings.with_overrides(environment="staging"))
    assert signing_secret(settings.with_overrides(environment="staging", jwt_secret="s" * 40)) == "s" * 40


def test_a_verified_token_is_reused_only_while_valid_and_only_for_its_key() -> None:
    from datetime import UTC, datetime, timedelta

    from litestar.exceptions import NotAuthorizedException

    from suppliers.auth.tokens import CachedToken

    key = "k" * 40
    soon = datetime.now(UTC) + timedelta(seconds=2)
    encoded = CachedToken(sub="a", exp=soon, jti=uuid.uuid4().hex).encode(key, "HS256")
    first = CachedToken.decode(encoded, key, "HS256")
    assert CachedToken.decode(encoded, key, "HS256") is first  # verified once
    with pytest.raises(NotAuthorizedException):
        CachedToken.decode(encoded, "another-key-" + "x" * 30, "HS256")
    # A cached copy past its expiry is not served: the token is verified again (and, expired, refused).
    first.exp = datetime.now(UTC) - timedelta(seconds=1)
    assert CachedToken.decode(encoded, key, "HS256") is not first
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 1.1)
    with pytest.raises(NotAuthorizedException):
        CachedToken.decode(encoded, key, "HS256")
