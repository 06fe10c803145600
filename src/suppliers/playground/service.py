"""Slow queries, failures, lock waits and deadlocks on demand, each in spans that show what happened.

Every transaction here rolls back: the playground takes locks and sleeps, it never changes data.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

from opentelemetry.trace import Tracer
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from suppliers.errors import DomainError
from suppliers.playground.repository import PlaygroundRepository
from suppliers.playground.schemas import DeadlockReport, LockWaitReport
from suppliers.telemetry.attributes import PLAYGROUND_SLEEP

# How long the second transaction waits before asking for the lock the first one holds, so the
# first one surely holds it: the wait in the trace is then the lock, not scheduling.
_HEAD_START_SECONDS = 0.05


class PlaygroundFailure(RuntimeError):
    """Raised on purpose by GET /playground/error."""


class NoProducts(DomainError):
    status = 409
    title = "No products"
    outcome = "no_products"


class Playground:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], tracer: Tracer) -> None:
        self.session_factory = session_factory
        self.tracer = tracer

    async def slow_query(self, seconds: float) -> None:
        with self.tracer.start_as_current_span("playground.slow_query") as span:
            span.set_attribute(PLAYGROUND_SLEEP, seconds)
            async with self.session_factory() as session:
                await PlaygroundRepository(session).sleep(seconds)

    def fail(self) -> None:
        with self.tracer.start_as_current_span("playground.fail"):
            raise PlaygroundFailure(
                "the playground failed on purpose: this is what an unhandled error looks like"
            )

    async def lock_wait(self, seconds: float) -> LockWaitReport:
        """One transaction holds a product's row lock for ``seconds``; another waits for it."""
        with self.tracer.start_as_current_span("playground.lock_wait"):
            product_id = (await self._products())[0]
            waited = 0.0

            async def holder() -> None:
                async with self.session_factory() as session:
                    repository = PlaygroundRepository(session)
                    await repository.lock_product(product_id)
                    await repository.sleep(seconds)
                    await session.rollback()

            async def waiter() -> None:
                nonlocal waited
                await asyncio.sleep(_HEAD_START_SECONDS)
                async with self.session_factory() as session:
                    started = time.perf_counter()
                    await PlaygroundRepository(session).lock_product(product_id)
                    waited = time.perf_counter() - started
                    await session.rollback()

            await asyncio.gather(
                self._traced("playground.holder", holder), self._traced("playground.waiter", waiter)
            )
            return LockWaitReport(
                product_id=product_id, held_seconds=seconds, waited_seconds=round(waited, 3)
            )

    async def deadlock(self) -> DeadlockReport:
        """Two transactions lock two products in opposite orders; PostgreSQL aborts one of them."""
        with self.tracer.start_as_current_span("playground.deadlock"):
            first, second = await self._products()
            both_hold_one = asyncio.Barrier(2)
            failures: dict[str, DBAPIError] = {}

            def transaction(name: str, mine: uuid.UUID, theirs: uuid.UUID) -> Callable[[], Awaitable[None]]:
                async def run() -> None:
                    async with self.session_factory() as session:
                        repository = PlaygroundRepository(session)
                        await repository.lock_product(mine)
                        await both_hold_one.wait()
                        try:
                            await repository.lock_product(theirs)
                        except DBAPIError as error:
                            failures[name] = error
                            raise
                        finally:
                            await session.rollback()

                return run

            await asyncio.gather(
                self._traced("playground.transaction_a", transaction("a", first, second)),
                self._traced("playground.transaction_b", transaction("b", second, first)),
                return_exceptions=True,
            )
            victim, error = next(iter(failures.items()), ("none", None))
            message = str(getattr(error, "orig", error)).splitlines()[0] if error else ""
            return DeadlockReport(product_ids=[first, second], victim=victim, error=message)

    async def _products(self) -> list[uuid.UUID]:
        async with self.session_factory() as session:
            products = await PlaygroundRepository(session).two_products()
        if len(products) < 2:
            raise NoProducts("the playground needs at least two products: load sample data first")
        return products

    async def _traced(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        # A failure leaves the span with status ERROR and the exception as an event.
        with self.tracer.start_as_current_span(name):
            await work()
