"""Ready needs PostgreSQL; Redis being down only degrades the service (sessions fall back to SQL)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from suppliers.cache.gate import RedisGate
from suppliers.health.repository import database_answers
from suppliers.health.schemas import CheckState, Health


class Readiness:
    def __init__(self, engine: AsyncEngine, redis: RedisGate | None) -> None:
        self._engine = engine
        self._redis = redis

    async def check(self) -> Health:
        database = await database_answers(self._engine)
        redis: CheckState = "disabled"
        if self._redis is not None:
            redis = "up" if await self._redis.ping() else "degraded"
        checks: dict[str, CheckState] = {"postgresql": "up" if database else "down", "redis": redis}
        if not database:
            return Health(status="unavailable", checks=checks)
        return Health(status="degraded" if redis == "degraded" else "ok", checks=checks)
