"""Per-request dependencies: a database connection and the services built on it."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncConnection

from suppliers.context import AppContext
from suppliers.inventory.services import CatalogService, StockService


def context_of(state: State) -> AppContext:
    ctx: AppContext = state.ctx
    return ctx


async def provide_db_connection(state: State) -> AsyncGenerator[AsyncConnection, None]:
    # Autocommit: a read is one round trip (no BEGIN/ROLLBACK around it), a movement one statement.
    async with context_of(state).autocommit_engine.connect() as connection:
        yield connection


def provide_catalog(db_connection: NamedDependency[AsyncConnection]) -> CatalogService:
    return CatalogService(db_connection)


def provide_stock(db_connection: NamedDependency[AsyncConnection], state: State) -> StockService:
    return context_of(state).stock_service(db_connection)


DEPENDENCIES = {
    "db_connection": Provide(provide_db_connection),
    "catalog": Provide(provide_catalog, sync_to_thread=False),
    "stock": Provide(provide_stock, sync_to_thread=False),
}
