"""The automatic resupply job and the low-stock measurement, on a schedule.

It wakes every interval, or early when a withdrawal takes a product under the threshold. Each run
is its own trace. With several replicas, the advisory lock taken by the resupply lets only one of
them work at a time; the others skip that round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Tracer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from suppliers.inventory.services import StockService

_log = logging.getLogger(__name__)
_MAX_LINKS = 8


class StockWatcher:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        make_service: Callable[[AsyncSession], StockService],
        tracer: Tracer,
        interval_seconds: float,
        resupply: bool,
    ) -> None:
        self._sessions = session_factory
        self._make_service = make_service
        self._tracer = tracer
        self._interval = interval_seconds
        self._resupply = resupply
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.low_stock: int | None = None
        self._pokes: list[Link] = []

    def poke(self) -> None:
        """Ask for a run soon: a withdrawal just crossed the threshold."""
        if self._resupply:
            # The run links back to the requests that woke it (a few are enough to follow).
            if len(self._pokes) < _MAX_LINKS:
                self._pokes.append(Link(trace.get_current_span().get_span_context()))
            self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="stock-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self, trigger: str) -> None:
        # An empty context makes each run a root span: it is not part of the request that poked it.
        token = otel_context.attach(otel_context.Context())
        links, self._pokes = self._pokes, []
        try:
            with self._tracer.start_as_current_span(
                "inventory.stock_watch", attributes={"suppliers.resupply.trigger": trigger}, links=links
            ):
                async with self._sessions() as session:
                    service = self._make_service(session)
                    if self._resupply:
                        done = await service.resupply(vendor_id=None, trigger=trigger, wait=False)
                        if done is not None and done.count:
                            _log.info(
                                "resupplied %d products (%s run)",
                                done.count,
                                trigger,
                                extra={
                                    "suppliers.resupply.trigger": trigger,
                                    "suppliers.resupply.products": done.count,
                                },
                            )
                    self.low_stock = await service.count_low_stock()
        finally:
            otel_context.detach(token)

    async def _loop(self) -> None:
        trigger = "scheduled"
        while True:
            try:
                await self.run_once(trigger)
            except asyncio.CancelledError:
                raise
            except Exception:  # the job must outlive a database hiccup
                _log.exception("stock watch run failed; retrying in %.0f s", self._interval)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
                trigger = "threshold"
            except TimeoutError:
                trigger = "scheduled"
