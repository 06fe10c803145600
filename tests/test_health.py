"""Readiness with PostgreSQL or Redis down, and service through a Redis outage."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from suppliers.embedded.postgres import free_port
from suppliers.embedded.redis import EmbeddedRedis
from tests.conftest import login
from tests.servers import ApiProcess


async def test_ready_when_both_are_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"postgresql": "up", "redis": "up"}}


async def test_not_ready_without_postgresql(redis_url: str, tmp_path: Path) -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/suppliers"
    process = ApiProcess(
        {"DATABASE_URL": nowhere, "REDIS_URL": redis_url}, log_path=tmp_path / "api.log"
    ).start()
    try:
        async with httpx.AsyncClient(base_url=process.base_url, timeout=30) as http:
            response = await http.get("/health/ready")
            assert response.status_code == 503
            assert response.headers["retry-after"] == "2"
            assert response.json() == {
                "status": "unavailable",
                "checks": {"postgresql": "down", "redis": "up"},
            }
            assert (await http.get("/health/live")).status_code == 200
            login_attempt = await http.post("/login/token", data={"username": "a", "password": "a"})
            assert login_attempt.status_code == 503  # no database, no credentials to check
            assert login_attempt.headers["retry-after"]
            assert login_attempt.headers["content-type"].startswith("application/problem+json")
    finally:
        process.stop()


async def test_a_redis_outage_degrades_but_keeps_serving(database_url: str, tmp_path: Path) -> None:
    redis = EmbeddedRedis(tmp_path / "redis")
    redis.start()
    process = ApiProcess(
        {"DATABASE_URL": database_url, "REDIS_URL": redis.url}, log_path=tmp_path / "api.log"
    ).start()
    try:
        async with httpx.AsyncClient(base_url=process.base_url, timeout=30) as http:
            headers = await login(http, "e")
            redis.stop()
            # Sessions now come from the database: slower, but every request still works.
            assert (await http.get("/vendors", params={"limit": 1}, headers=headers)).status_code == 200
            ready = await http.get("/health/ready")
            assert ready.status_code == 200
            assert ready.json() == {"status": "degraded", "checks": {"postgresql": "up", "redis": "degraded"}}
            fresh = await login(http, "f")
            assert (await http.get("/products", params={"limit": 1}, headers=fresh)).status_code == 200
            assert (await http.post("/login/logout", headers=fresh)).status_code == 204
            assert (await http.get("/products", headers=fresh)).status_code == 401

            redis.start()  # same port: the API finds it again by itself
            for _ in range(50):
                if (await http.get("/health/ready")).json()["checks"]["redis"] == "up":
                    break
                await asyncio.sleep(0.2)
            assert (await http.get("/health/ready")).json()["status"] == "ok"
            assert (await http.get("/vendors", params={"limit": 1}, headers=headers)).status_code == 200
    finally:
        process.stop()
        redis.stop()
