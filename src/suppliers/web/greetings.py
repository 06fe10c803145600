"""The two public greeting routes; /hello is the latency demo for traces."""

from __future__ import annotations

import asyncio
import random
from typing import Annotated

import msgspec
from litestar import get
from litestar.params import QueryParameter

from suppliers.settings import Settings
from suppliers.web.params import NON_NEGATIVE, Provided
from suppliers.web.problems import problems

MAX_FORCED_DELAY = 5


class Message(msgspec.Struct):
    message: str


@get("/", summary="Hello", tags=["greetings"])
async def root() -> Message:
    return Message(message="Hello World!")


@get(
    "/hello",
    summary="Hello, after a random delay",
    description="Waits 0 to the configured maximum seconds without blocking the server, or `delay` seconds.",
    tags=["greetings"],
    responses=problems(422),
)
async def hello(
    settings: Provided[Settings],
    delay: Annotated[
        float | None,
        QueryParameter(
            ge=0, le=MAX_FORCED_DELAY, schema_extra=NON_NEGATIVE, description="Force this delay, in seconds"
        ),
    ] = None,
) -> str:
    if delay is None:
        delay = random.uniform(0, settings.hello_max_delay_seconds)
    await asyncio.sleep(delay)
    return "Hello World!"
