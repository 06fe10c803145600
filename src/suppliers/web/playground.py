"""The observability playground routes (on only with SUPPLIERS_PLAYGROUND=true)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.params import QueryParameter

from suppliers.playground.schemas import DeadlockReport, LockWaitReport
from suppliers.playground.service import Playground
from suppliers.web.params import Provided
from suppliers.web.problems import problems

MAX_SECONDS = 10

Seconds = Annotated[
    float, QueryParameter(gt=0, le=MAX_SECONDS, description=f"How long, in seconds (at most {MAX_SECONDS})")
]


class PlaygroundController(Controller):
    path = "/playground"
    tags = ["playground"]

    @get(
        "/slow",
        summary="A slow request",
        description="Runs `SELECT pg_sleep(seconds)`: the trace shows where the time went (the SQL span).",
        responses=problems(422),
    )
    async def slow(self, playground: Provided[Playground], seconds: Seconds = 2.0) -> dict[str, float]:
        await playground.slow_query(seconds)
        return {"slept_seconds": seconds}

    @get(
        "/error",
        summary="A failing request",
        description="Raises an unhandled error: 500 problem, a span in ERROR, a log line with its trace id.",
        responses=problems(500),
    )
    async def error(self, playground: Provided[Playground]) -> None:
        playground.fail()

    @post(
        "/lock-wait",
        status_code=200,
        summary="A lock wait between two transactions",
        description=(
            "One transaction locks a product row and holds it for `seconds`; a second asks for the same "
            "lock and waits. Both roll back."
        ),
        responses=problems(409, 422),
    )
    async def lock_wait(self, playground: Provided[Playground], seconds: Seconds = 1.0) -> LockWaitReport:
        return await playground.lock_wait(seconds)

    @post(
        "/deadlock",
        status_code=200,
        summary="A deadlock between two transactions",
        description=(
            "Two transactions lock two products in opposite orders; PostgreSQL detects the deadlock "
            "(after its deadlock_timeout, 1 s by default) and aborts one, whose span ends in ERROR. "
            "Both roll back."
        ),
        responses=problems(409),
    )
    async def deadlock(self, playground: Provided[Playground]) -> DeadlockReport:
        return await playground.deadlock()
