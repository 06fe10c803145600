"""The automatic resupply job and the low-stock measurement, run by one process of the whole fleet.

Every API process (each worker of each replica) has a watcher, and with resupply on they elect one
leader through a PostgreSQL session advisory lock held on a dedicated connection: only the leader
works. If it dies, its connection closes, the lock goes with it, and another watcher takes over
within an interval. With resupply off there is nothing to share: each process only counts low stock.

The leader wakes every interval, or early when any process's withdrawal takes a product under the
threshold: that withdrawal sends NOTIFY in its own transaction (delivered only if it commits), with
its span context, so each run is its own trace linked to the requests that woke it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import Link, Tracer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from suppliers.inventory import low_stock_signal
from suppliers.inventory.services import StockService
from suppliers.telemetry.attributes import RESUPPLY_PRODUCTS, TRIGGER

_log = logging.getLogger(__name__)
_MAX_LINKS = 8

# pg_try_advisory_lock key of the leader; the resupply's own transaction lock is another key.
LEADER_LOCK_KEY = 0x5E5_0002


class StockWatcher:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        make_service: Callable[[AsyncConnection], StockService],
        tracer: Tracer,
        interval_seconds: float,
        resupply: bool,
    ) -> None:
        # In autocommit, like a request's connections: the job's reads are single statements.
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._make_service = make_service
        self._tracer = tracer
        self._interval = interval_seconds
        self._resupply = resupply
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._leader: AsyncConnection | None = None
        self.low_stock: int | None = None
        self._pokes: list[Link] = []

    @property
    def is_leader(self) -> bool:
        return self._leader is not None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="stock-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._step_down()

    async def run_once(self, trigger: str) -> None:
        """One round of the job: resupply (when on), then measure low stock."""
        # An empty context makes each run a root span: it is not part of the request that poked it.
        token = otel_context.attach(otel_context.Context())
        links, self._pokes = self._pokes, []
        try:
            with self._tracer.start_as_current_span(
                "inventory.stock_watch", attributes={TRIGGER: trigger}, links=links
            ):
                async with self._engine.connect() as connection:
                    service = self._make_service(connection)
                    if self._resupply:
                        done = await service.resupply(vendor_id=None, trigger=trigger, wait=False)
                        if done is not None and done.count:
                            _log.info(
                                "resupplied %d products (%s run)",
                                done.count,
                                trigger,
                                extra={
                                    TRIGGER: trigger,
                                    RESUPPLY_PRODUCTS: done.count,
                                },
                            )
                    self.low_stock = await service.count_low_stock()
        finally:
            otel_context.detach(token)

    async def lead(self) -> bool:
        """Whether this watcher should work: it leads (keeps the lock it holds, or takes it)."""
        if not self._resupply:
            return True
        # Housekeeping, not work anyone follows: no SQL spans for it.
        with suppress_instrumentation():
            if self._leader is not None:
                try:
                    await self._leader.exec_driver_sql("SELECT 1")
                    return True
                except Exception:  # the connection died, and the lock with it
                    _log.warning("stock watcher lost its leader connection; standing for leader again")
                    await self._step_down()
            connection = await self._engine.connect()
            try:
                won = await connection.scalar(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_LOCK_KEY}
                )
                if not won:
                    await connection.close()
                    return False
                raw = await connection.get_raw_connection()
                await raw.driver_connection.add_listener(low_stock_signal.CHANNEL, self._on_notify)  # type: ignore[union-attr]
            except BaseException:
                await connection.invalidate()
                raise
        self._leader = connection
        _log.info("stock watcher: this process now runs the automatic resupply")
        return True

    def _on_notify(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        if len(self._pokes) < _MAX_LINKS and (link := low_stock_signal.decode(payload)) is not None:
            self._pokes.append(link)
        self._wake.set()

    async def _step_down(self) -> None:
        if self._leader is None:
            return
        leader, self._leader = self._leader, None
        # Closed for real, never returned to the pool: a session advisory lock would outlive the
        # checkout, and whoever got that connection next would lead without knowing it.
        with contextlib.suppress(Exception):
            await leader.invalidate()
        with contextlib.suppress(Exception):
            await leader.close()

    async def _loop(self) -> None:
        trigger = "scheduled"
        while True:
            # Cleared before the run: a poke that arrives during it starts the next run at once.
            self._wake.clear()
            try:
                if await self.lead():
                    await self.run_once(trigger)
            except asyncio.CancelledError:
                raise
            except Exception:  # the job must outlive a database hiccup
                _log.exception("stock watch run failed; retrying in %.0f s", self._interval)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
                trigger = "threshold"
            except TimeoutError:
                trigger = "scheduled"
