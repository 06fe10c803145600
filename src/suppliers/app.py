"""The composition root: settings → database → cache → auth → telemetry → routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.openapi.config import OpenAPIConfig

from suppliers import __version__
from suppliers.components import build_components
from suppliers.runtime import tune_garbage_collector
from suppliers.settings import Settings
from suppliers.telemetry.access_log import log_every_request
from suppliers.telemetry.logs import configure_console
from suppliers.telemetry.setup import Telemetry
from suppliers.web.auth import LoginController, build_bearer_auth
from suppliers.web.dependencies import dependencies
from suppliers.web.docs import docs_routes, swagger_plugin
from suppliers.web.errors import EXCEPTION_HANDLERS, status_for
from suppliers.web.greetings import hello, root
from suppliers.web.health import HealthController
from suppliers.web.inventory import ProductController, TransactionController, VendorController
from suppliers.web.openapi import document_validation_as_422
from suppliers.web.playground import PlaygroundController
from suppliers.web.requests import MAX_BODY_BYTES, LimitedRequest


def create_app(settings: Settings | None = None, *, telemetry: Telemetry | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    telemetry = telemetry or Telemetry.from_settings(settings)
    configure_console(settings.log_level, shared_dir=settings.metrics_dir)
    components = build_components(
        settings, tracer=telemetry.tracer("suppliers"), instruments=telemetry.instruments
    )
    telemetry.instrument(
        engine=components.engine, redis=components.redis, max_overflow=settings.db_max_overflow
    )
    bearer = build_bearer_auth(settings, components.auth)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        components.stock_watcher.start()
        try:
            yield
        finally:
            await components.close()
            telemetry.shutdown()

    openapi = OpenAPIConfig(
        title="suppliers",
        version=__version__,
        description=(
            "An inventory API instrumented with OpenTelemetry. Sign in with **Authorize** "
            "(demo users a … z, password = username; `a` is an operator)."
        ),
        path="/schema",
        render_plugins=[swagger_plugin()],
    )
    app = Litestar(
        route_handlers=[
            root,
            hello,
            *docs_routes(),
            HealthController,
            LoginController,
            VendorController,
            ProductController,
            TransactionController,
            *telemetry.route_handlers(processes=settings.processes),
            *([PlaygroundController] if settings.playground else []),
        ],
        dependencies=dependencies(components, bearer),
        exception_handlers=EXCEPTION_HANDLERS,
        request_class=LimitedRequest,
        request_max_body_size=MAX_BODY_BYTES,
        # The access log goes outside authentication (on_app_init hooks run in order, each puts its
        # middleware first): a request refused for its token gets its line too.
        on_app_init=[bearer.on_app_init, *([log_every_request(status_for)] if settings.access_log else [])],
        lifespan=[lifespan],
        openapi_config=openapi,
        debug=False,
        # Logging is configured by telemetry/logs.py; Litestar's default would add a root handler.
        logging_config=None,
    )
    _finish_openapi(app)
    telemetry.trace_requests(app)
    return app


def serve_app(settings: Settings | None = None) -> Litestar:
    """The app as `suppliers serve` runs it in each process: built, then the process tuned for serving."""
    app = create_app(settings)
    tune_garbage_collector()
    return app


def _finish_openapi(app: Litestar) -> None:
    """Describe our error bodies, which Litestar's generated schema does not know about."""
    schema = app.openapi_schema
    problem_422 = schema.paths["/login/token"].post.responses["422"]  # type: ignore[index,union-attr]
    document_validation_as_422(schema, problem_422)  # type: ignore[arg-type]
    # TransactionIn refuses unknown fields (a typo must not be silently dropped); say so in the schema.
    schema.components.schemas["TransactionIn"].additional_properties = False
