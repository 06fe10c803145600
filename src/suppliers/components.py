"""What one app is made of, built once by the composition root (app.py) and closed with it.

Nothing reads this object at request time: app.py hands each part to Litestar's dependency
injection, and every route declares the parts it needs by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.trace import Tracer
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from suppliers.auth.rate_limit import LoginLimiter
from suppliers.auth.service import AuthService
from suppliers.auth.session_cache import SessionCache
from suppliers.cache.client import redis_client
from suppliers.cache.gate import RedisGate
from suppliers.db.engine import create_engine, create_session_factory
from suppliers.health.service import Readiness
from suppliers.inventory.services import StockRules, StockServices
from suppliers.inventory.stock_watch import StockWatcher
from suppliers.playground.service import Playground
from suppliers.settings import Settings
from suppliers.telemetry.instruments import Instruments


@dataclass(slots=True)
class Components:
    settings: Settings
    engine: AsyncEngine
    # The same pool, each connection in autocommit: what a request reads and writes with.
    autocommit_engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    redis: Redis | None
    auth: AuthService
    readiness: Readiness
    playground: Playground
    # The one maker of StockServices, for requests and for the stock watcher alike.
    stock_services: StockServices
    stock_watcher: StockWatcher
    tracer: Tracer
    instruments: Instruments

    async def close(self) -> None:
        await self.stock_watcher.stop()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()


def build_components(settings: Settings, *, tracer: Tracer, instruments: Instruments) -> Components:
    engine = create_engine(settings)
    session_factory = create_session_factory(engine)
    redis = redis_client(settings)
    gate = RedisGate(redis) if redis is not None else None
    auth = AuthService(
        session_factory=session_factory,
        cache=SessionCache(gate) if gate else None,
        limiter=LoginLimiter(
            gate,
            max_attempts=settings.login_max_failures,
            window_seconds=settings.login_failure_window_seconds,
        ),
        session_ttl_seconds=settings.session_cache_ttl_seconds,
        tracer=tracer,
        instruments=instruments,
    )
    stock_services = StockServices(
        engine=engine,
        rules=StockRules(
            resupply_threshold=settings.resupply_threshold, resupply_amount=settings.resupply_amount
        ),
        tracer=tracer,
        instruments=instruments,
        signal_low_stock=settings.auto_resupply,
    )
    watcher = StockWatcher(
        engine=engine,
        make_service=stock_services,
        tracer=tracer,
        interval_seconds=settings.auto_resupply_interval_seconds,
        resupply=settings.auto_resupply,
    )
    components = Components(
        settings=settings,
        engine=engine,
        autocommit_engine=engine.execution_options(isolation_level="AUTOCOMMIT"),
        session_factory=session_factory,
        redis=redis,
        auth=auth,
        readiness=Readiness(engine, gate),
        playground=Playground(session_factory, tracer),
        stock_services=stock_services,
        stock_watcher=watcher,
        tracer=tracer,
        instruments=instruments,
    )
    instruments.observe_low_stock(lambda: watcher.low_stock)
    return components
