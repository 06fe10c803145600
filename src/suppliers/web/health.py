"""Liveness and readiness routes."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.openapi.datastructures import ResponseSpec

from suppliers.health.schemas import Health
from suppliers.health.service import Readiness
from suppliers.web.params import Provided

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
    async def ready(self, readiness: Provided[Readiness]) -> Response[Health]:
        health = await readiness.check()
        if health.status == "unavailable":
            # As every other 503 here: a client that polls readiness learns when to ask again.
            return Response(health, status_code=503, headers={"Retry-After": "2"})
        return Response(health)
