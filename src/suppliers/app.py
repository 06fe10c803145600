"""The composition root: settings → database → cache → auth → telemetry → routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.openapi.config import OpenAPIConfig
from redis.asyncio import Redis

from suppliers import __version__
from suppliers.auth.rate_limit import LoginLimiter
from suppliers.auth.redis_gate import RedisGate
from suppliers.auth.service import AuthService
from suppliers.auth.session_cache import SessionCache
from suppliers.context import AppContext
from suppliers.db.engine import create_engine, create_session_factory
from suppliers.inventory.services import StockRules, StockService
from suppliers.inventory.stock_watch import StockWatcher
from suppliers.settings import Settings
from suppliers.telemetry.access_log import log_every_request
from suppliers.telemetry.logs import configure_console
from suppliers.telemetry.setup import Telemetry
from suppliers.web.auth import LoginController, build_bearer_auth
from suppliers.web.dependencies import DEPENDENCIES
from suppliers.web.docs import docs_routes, swagger_plugin
from suppliers.web.greetings import hello, root
from suppliers.web.health import HealthController
from suppliers.web.inventory import ProductController, TransactionController, VendorController
from suppliers.web.playground import PlaygroundController
from suppliers.web.problems import EXCEPTION_HANDLERS, document_validation_as_422, status_for
from suppliers.web.requests import MAX_BODY_BYTES, LimitedRequest


def build_context(settings: Settings, telemetry: Telemetry) -> AppContext:
    engine = create_engine(settings)
    session_factory = create_session_factory(engine)
    redis = None
    gate = None
    if settings.redis_url:
        redis = Redis.from_url(
            settings.redis_url,
            socket_timeout=settings.redis_timeout_seconds,
            socket_connect_timeout=settings.redis_timeout_seconds,
        )
        gate = RedisGate(redis)
    tracer = telemetry.tracer("suppliers")
    instruments = telemetry.instruments
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
    rules = StockRules(
        resupply_threshold=settings.resupply_threshold, resupply_amount=settings.resupply_amount
    )
    # The job's own runs never withdraw, so its services need no low-stock callback.
    watcher = StockWatcher(
        engine=engine,
        make_service=lambda connection: StockService(
            connection, engine=engine, rules=rules, tracer=tracer, instruments=instruments
        ),
        tracer=tracer,
        interval_seconds=settings.auto_resupply_interval_seconds,
        resupply=settings.auto_resupply,
    )
    ctx = AppContext(
        settings=settings,
        engine=engine,
        autocommit_engine=engine.execution_options(isolation_level="AUTOCOMMIT"),
        session_factory=session_factory,
        redis=redis,
        redis_gate=gate,
        auth=auth,
        stock_rules=rules,
        stock_watcher=watcher,
        tracer=tracer,
        instruments=instruments,
    )
    instruments.observe_low_stock(lambda: watcher.low_stock)
    return ctx


def create_app(settings: Settings | None = None, *, telemetry: Telemetry | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    telemetry = telemetry or Telemetry.from_settings(settings)
    configure_console(settings.log_level)
    ctx = build_context(settings, telemetry)
    telemetry.instrument(ctx)
    bearer = build_bearer_auth(settings)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        ctx.stock_watcher.start()
        try:
            yield
        finally:
            await ctx.stock_watcher.stop()
            if ctx.redis is not None:
                await ctx.redis.aclose()
            await ctx.engine.dispose()
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
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,
        request_class=LimitedRequest,
        request_max_body_size=MAX_BODY_BYTES,
        # The access log goes outside authentication (on_app_init hooks run in order, each puts its
        # middleware first): a request refused for its token gets its line too.
        on_app_init=[bearer.on_app_init, *([log_every_request(status_for)] if settings.access_log else [])],
        lifespan=[lifespan],
        openapi_config=openapi,
        plugins=telemetry.plugins(),
        debug=False,
        # Logging is configured by telemetry/logs.py; Litestar's default would add a root handler.
        logging_config=None,
    )
    app.state.ctx = ctx
    app.state.bearer_auth = bearer
    _finish_openapi(app)
    return app


def _finish_openapi(app: Litestar) -> None:
    """Describe our error bodies, which Litestar's generated schema does not know about."""
    schema = app.openapi_schema
    problem_422 = schema.paths["/login/token"].post.responses["422"]  # type: ignore[index,union-attr]
    document_validation_as_422(schema, problem_422)  # type: ignore[arg-type]
    # TransactionIn refuses unknown fields (a typo must not be silently dropped); say so in the schema.
    schema.components.schemas["TransactionIn"].additional_properties = False
