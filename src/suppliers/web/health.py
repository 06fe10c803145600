"""Liveness and readiness. Ready needs PostgreSQL; Redis being down only degrades the service."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import msgspec
from litestar import Controller, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from sqlalchemy import text

from suppliers.web.dependencies import context_of

CheckState = Literal["up", "down", "degraded", "disabled"]


class Health(msgspec.Struct):
    status: Literal["ok", "degraded", "unavailable"]
    checks: dict[str, CheckState]


_UNAVAILABLE = ResponseSpec(
    data_container=Health, description="PostgreSQL is unreachable", generate_examples=False
)


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get("/live", summary="The process is running")
    async def live(self) -> Health:
        return Health(status="ok", checks={})

    @get(
        "/ready",
        summary="Can serve requests",
        description="503 when PostgreSQL is unreachable; 200 with Redis `degraded` when only Redis is down.",
        responses={503: _UNAVAILABLE},
    )
    async def ready(self, request: Request[Any, Any, Any]) -> Response[Health]:
        ctx = context_of(request.app.state)
        database = await _database_up(ctx)
        if ctx.redis_gate is None:
            redis: CheckState = "disabled"
        else:
            redis = "up" if await ctx.redis_gate.ping() else "degraded"
        checks: dict[str, CheckState] = {"postgresql": "up" if database else "down", "redis": redis}
        if not database:
            return Response(Health(status="unavailable", checks=checks), status_code=503)
        return Response(Health(status="degraded" if redis == "degraded" else "ok", checks=checks))


async def _database_up(ctx: Any) -> bool:
    try:
        async with asyncio.timeout(2):
            async with ctx.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception:  # any failure to answer means not ready
        return False
    return True
