"""Everything a route can ask for by name, provided from the app's components.

App-wide parts (settings, services that hold no per-request state) are provided as they are;
a request's database connection, and the services built on it, are made per request.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any

from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from suppliers.components import Components
from suppliers.inventory.services import CatalogService, StockService, StockServices
from suppliers.web.auth import Bearer
from suppliers.web.params import Provided


def _constant(value: Any) -> Provide:
    def provide() -> Any:
        return value

    return Provide(provide, use_cache=True, sync_to_thread=False)


def _db_connection(engine: AsyncEngine) -> Callable[[], AsyncGenerator[AsyncConnection, None]]:
    async def provide_db_connection() -> AsyncGenerator[AsyncConnection, None]:
        # Autocommit: a read is one round trip (no BEGIN/ROLLBACK around it), a movement one statement.
        async with engine.connect() as connection:
            yield connection

    return provide_db_connection


def provide_catalog(db_connection: Provided[AsyncConnection]) -> CatalogService:
    return CatalogService(db_connection)


def provide_stock(
    db_connection: Provided[AsyncConnection], stock_services: Provided[StockServices]
) -> StockService:
    return stock_services(db_connection)


def dependencies(components: Components, bearer: Bearer) -> dict[str, Provide]:
    return {
        "settings": _constant(components.settings),
        "auth": _constant(components.auth),
        "bearer": _constant(bearer),
        "readiness": _constant(components.readiness),
        "playground": _constant(components.playground),
        "stock_services": _constant(components.stock_services),
        "db_connection": Provide(_db_connection(components.autocommit_engine)),
        "catalog": Provide(provide_catalog, sync_to_thread=False),
        "stock": Provide(provide_stock, sync_to_thread=False),
    }
