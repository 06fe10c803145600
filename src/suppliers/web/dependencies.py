"""Per-request dependencies: a database session and the services built on it."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from suppliers.context import AppContext
from suppliers.inventory.services import CatalogService, StockService


def context_of(state: State) -> AppContext:
    ctx: AppContext = state.ctx
    return ctx


async def provide_db_session(state: State) -> AsyncGenerator[AsyncSession, None]:
    async with context_of(state).session_factory() as session:
        yield session


def provide_catalog(db_session: NamedDependency[AsyncSession]) -> CatalogService:
    return CatalogService(db_session)


def provide_stock(db_session: NamedDependency[AsyncSession], state: State) -> StockService:
    return context_of(state).stock_service(db_session)


DEPENDENCIES = {
    "db_session": Provide(provide_db_session),
    "catalog": Provide(provide_catalog, sync_to_thread=False),
    "stock": Provide(provide_stock, sync_to_thread=False),
}
