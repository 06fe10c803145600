"""The API's documentation page: Swagger UI, served by the API itself, so /docs works offline.

Swagger UI's files come from a package installed with the project (swagger-ui-bundle-v2, which
ships swagger-ui-dist), never from a CDN: opening /docs makes no request that leaves the machine.
"""

from __future__ import annotations

from pathlib import Path

from litestar import get
from litestar.datastructures import CacheControlHeader
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.response import Redirect
from litestar.router import Router
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

# Under /schema: public (no token), untraced, like the schema itself.
ASSETS = "/schema/swagger-ui"
SWAGGER_PAGE = "/schema/swagger"


def swagger_plugin() -> SwaggerRenderPlugin:
    return SwaggerRenderPlugin(
        path="/swagger",
        js_url=f"{ASSETS}/swagger-ui-bundle.js",
        css_url=f"{ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS}/favicon-32x32.png'>",
    )


def swagger_assets() -> Router:
    return create_static_files_router(
        path=ASSETS,
        directories=[Path(str(swagger_ui_path))],
        include_in_schema=False,
        # The folder is named after its version: a day's caching is safe, and the page loads fast.
        cache_control=CacheControlHeader(max_age=86_400, public=True),
    )


@get("/docs", include_in_schema=False, sync_to_thread=False)
def docs() -> Redirect:
    return Redirect(SWAGGER_PAGE)


def docs_routes() -> list[HTTPRouteHandler | Router]:
    return [docs, swagger_assets()]
