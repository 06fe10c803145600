"""What the running app holds: built once by the composition root, read by request dependencies."""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.trace import Tracer
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from suppliers.auth.redis_gate import RedisGate
from suppliers.auth.service import AuthService
from suppliers.inventory.services import StockRules, StockService
from suppliers.inventory.stock_watch import StockWatcher
from suppliers.settings import Settings
from suppliers.telemetry.instruments import Instruments


@dataclass(slots=True)
class AppContext:
    settings: Settings
    engine: AsyncEngine
    # The same pool, each connection in autocommit: what a request reads and writes with.
    autocommit_engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    redis: Redis | None
    redis_gate: RedisGate | None
    auth: AuthService
    stock_rules: StockRules
    stock_watcher: StockWatcher
    tracer: Tracer
    instruments: Instruments

    def stock_service(self, connection: AsyncConnection) -> StockService:
        return StockService(
            connection,
            engine=self.engine,
            rules=self.stock_rules,
            tracer=self.tracer,
            instruments=self.instruments,
            signal_low_stock=self.settings.auto_resupply,
        )
