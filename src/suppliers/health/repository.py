"""The one statement readiness runs."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

# A probe that waits longer than its caller's timeout answers nobody; orchestrators probe every few seconds.
PROBE_TIMEOUT_SECONDS = 2.0


async def database_answers(engine: AsyncEngine) -> bool:
    """Whether PostgreSQL runs ``SELECT 1`` within the probe timeout, on a connection from the pool."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # any failure to answer means not ready
        return False
    return True
