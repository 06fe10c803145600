"""The `suppliers` command: serve the API, migrate, load data.

Without DATABASE_URL / REDIS_URL it starts real PostgreSQL and Redis servers from wheels, keeping
their data under SUPPLIERS_DATA_DIR (default .data/), and stops them when it exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from suppliers.settings import ConfigurationError, Settings, available_cpus

# Idle keep-alive connections are closed by the server after this long. It must outlast the idle
# timeout of whatever reuses them (the balancer's upstream keepalive_timeout, 60 s; HTTP clients'
# pools): a server that closes first races the client's next request, which then fails without an
# answer (uvicorn's default of 5 s does exactly that under load).
KEEP_ALIVE_SECONDS = 75
# Ctrl-C or SIGTERM: requests in flight get this long to finish before the workers stop anyway.
GRACEFUL_SHUTDOWN_SECONDS = 1
EMBEDDED_PG_PORT = 55432
EMBEDDED_REDIS_PORT = 56379
SAMPLE_VENDORS, SAMPLE_PRODUCTS, SAMPLE_SEED = 1000, 10_000, 42


@contextlib.contextmanager
def servers(settings: Settings, *, need_redis: bool) -> Iterator[Settings]:
    """Settings whose URLs point at running servers: the configured ones, or embedded ones we start."""
    started: list[object] = []
    try:
        if settings.database_url is None:
            from suppliers.embedded.postgres import EmbeddedPostgres

            pg = EmbeddedPostgres(settings.data_dir / "postgres", port=EMBEDDED_PG_PORT)
            _say(f"starting embedded PostgreSQL on 127.0.0.1:{pg.port} (data in {pg.data_dir})")
            settings = settings.with_overrides(database_url=pg.start())
            started.append(pg)
        if need_redis and settings.redis_url is None:
            from suppliers.embedded.redis import EmbeddedRedis

            redis = EmbeddedRedis(settings.data_dir / "redis", port=EMBEDDED_REDIS_PORT)
            _say(f"starting embedded Redis on 127.0.0.1:{redis.port}")
            settings = settings.with_overrides(redis_url=redis.start())
            started.append(redis)
        yield settings
    finally:
        for server in reversed(started):
            server.stop()  # type: ignore[attr-defined]


def _say(message: str) -> None:
    print(f"suppliers: {message}", file=sys.stderr, flush=True)


def _database_url(settings: Settings) -> str:
    assert settings.database_url is not None
    return settings.database_url


def worker_environment(settings: Settings) -> dict[str, str]:
    """What a spawned worker must read from its environment to build the same app."""
    resolved = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "SUPPLIERS_JWT_SECRET": settings.jwt_secret,
        "SUPPLIERS_WORKERS": str(settings.processes),
        "SUPPLIERS_METRICS_DIR": str(settings.metrics_dir) if settings.metrics_dir else None,
    }
    return {name: value for name, value in resolved.items() if value is not None}


def _sigterm_as_interrupt(*_: object) -> None:
    # uvicorn re-raises the signal it stopped on once it has shut down; as KeyboardInterrupt it
    # unwinds through `servers()`, which then stops the embedded servers instead of orphaning them.
    raise KeyboardInterrupt


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    import signal

    import uvicorn

    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)

    from suppliers.app import serve_app
    from suppliers.auth.secret import development_secret, signing_secret
    from suppliers.data.seeding import ensure_demo_users, seed_if_empty
    from suppliers.db.migrations import upgrade

    settings = settings.with_overrides(host=args.host or settings.host, port=args.port or settings.port)
    if settings.jwt_secret is None and settings.environment == "development":
        # Kept with the data: tokens stay valid across restarts of `make run`, never published.
        settings = settings.with_overrides(jwt_secret=development_secret(settings.data_dir))
    signing_secret(settings)  # outside development, no secret is a one-line error before anything starts
    settings = settings.with_overrides(workers=settings.workers or available_cpus())
    with servers(settings, need_redis=True) as live:
        url = _database_url(live)
        upgrade(url)
        if not args.no_seed:
            sample = {"vendors": SAMPLE_VENDORS, "products": SAMPLE_PRODUCTS, "seed": SAMPLE_SEED}
            if asyncio.run(seed_if_empty(url, **sample)):
                _say("loaded sample data: 1,000 vendors, 10,000 products")
            asyncio.run(ensure_demo_users(url))
        workers = f"{live.processes} workers" if live.processes > 1 else "1 worker"
        _say(
            f"API on http://{live.host}:{live.port} ({workers})  -  docs at http://{live.host}:{live.port}/docs"
        )
        _say("demo users a … z, password = username (a is an operator); Ctrl-C stops everything")
        options: dict[str, Any] = {
            "host": live.host,
            "port": live.port,
            "log_level": live.log_level.lower(),
            "access_log": False,
            "proxy_headers": True,
            "timeout_keep_alive": KEEP_ALIVE_SECONDS,
            "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        }
        if live.processes == 1:
            uvicorn.run(serve_app(live), **options)
            return
        # Each worker is a fresh interpreter (spawned) that builds its own app, pool and telemetry
        # providers from the environment: hand it the settings this process resolved (the embedded
        # servers' URLs, the development secret, where the workers meet to answer /metrics together).
        with tempfile.TemporaryDirectory(prefix="suppliers-metrics-") as metrics_dir:
            live = live.with_overrides(metrics_dir=live.metrics_dir or Path(metrics_dir))
            os.environ.update(worker_environment(live))
            uvicorn.run("suppliers.app:serve_app", factory=True, workers=live.processes, **options)


def cmd_db(settings: Settings, args: argparse.Namespace) -> None:
    from suppliers.db.migrations import downgrade, upgrade

    with servers(settings, need_redis=False) as live:
        if args.action == "upgrade":
            upgrade(_database_url(live), args.revision or "head")
        else:
            downgrade(_database_url(live), args.revision or "base")


def cmd_generate(settings: Settings, args: argparse.Namespace) -> None:
    from suppliers.data.seeding import generate
    from suppliers.db.migrations import upgrade

    with servers(settings, need_redis=False) as live:
        upgrade(_database_url(live))
        asyncio.run(
            generate(_database_url(live), vendors=args.vendors, products=args.products, seed=args.seed)
        )
    _say(
        f"generated {args.vendors} vendors and {args.products} products (seed {args.seed}) and the demo users"
    )


def cmd_import(settings: Settings, args: argparse.Namespace) -> None:
    from suppliers.data.seeding import import_csv
    from suppliers.db.migrations import upgrade

    with servers(settings, need_redis=False) as live:
        upgrade(_database_url(live))
        started = time.monotonic()
        imported = asyncio.run(
            import_csv(_database_url(live), vendors_csv=Path(args.vendors), products_csv=Path(args.products))
        )
        took = time.monotonic() - started
    given_c = f" ({imported.given_c:,} given qualification C: none in the file)" if imported.given_c else ""
    _say(
        f"imported {imported.vendors:,} vendors{given_c} from {args.vendors} and "
        f"{imported.products:,} products from {args.products} in {took:.1f} s"
    )
    if imported.skipped_users:
        missing = ", ".join(imported.skipped_users)
        _say(f"demo users without their vendor in the files, not created: {missing}")


def cmd_seed(settings: Settings, args: argparse.Namespace) -> None:
    """Migrate, generate sample data if the database is empty, create the demo users (compose job)."""
    from suppliers.data.seeding import ensure_demo_users, seed_if_empty
    from suppliers.db.migrations import upgrade

    with servers(settings, need_redis=False) as live:
        url = _database_url(live)
        upgrade(url)
        loaded = asyncio.run(seed_if_empty(url, vendors=args.vendors, products=args.products, seed=args.seed))
        asyncio.run(ensure_demo_users(url))
    _say("sample data loaded" if loaded else "database already has data: left as it is")


def cmd_users(settings: Settings, args: argparse.Namespace) -> None:
    from suppliers.data.seeding import ensure_demo_users

    with servers(settings, need_redis=False) as live:
        skipped = asyncio.run(ensure_demo_users(_database_url(live)))
    _say("demo users a … z ready" + (f" (skipped, no vendor: {', '.join(skipped)})" if skipped else ""))


def _add_size_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vendors", type=int, default=SAMPLE_VENDORS, help="vendors to generate")
    parser.add_argument("--products", type=int, default=SAMPLE_PRODUCTS, help="products to generate")
    parser.add_argument("--seed", type=int, default=SAMPLE_SEED, help="same seed, same rows")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="suppliers", description=__doc__.splitlines()[0] if __doc__ else None
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate, load sample data on first start, serve the API")
    serve.add_argument("--host", help="interface to listen on (SUPPLIERS_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (SUPPLIERS_PORT, default 5001)")
    serve.add_argument("--no-seed", action="store_true", help="do not load sample data or demo users")
    serve.set_defaults(run=cmd_serve)

    db = commands.add_parser("db", help="schema migrations")
    db.add_argument("action", choices=["upgrade", "downgrade"])
    db.add_argument("revision", nargs="?", help="target revision (default: head / base)")
    db.set_defaults(run=cmd_db)

    data = commands.add_parser("data", help="sample data").add_subparsers(dest="data_command", required=True)
    gen = data.add_parser("generate", help="replace the inventory with deterministic sample data (COPY)")
    _add_size_options(gen)
    gen.set_defaults(run=cmd_generate)
    imp = data.add_parser("import", help="replace the inventory with the old demo's CSV files")
    imp.add_argument("--vendors", required=True, help="vendors.csv (id,qualification)")
    imp.add_argument(
        "--products", required=True, help="products.csv (id,name,price,quantity,required_qualification)"
    )
    imp.set_defaults(run=cmd_import)

    seed = commands.add_parser("seed", help="migrate, generate sample data if empty, create demo users")
    _add_size_options(seed)
    seed.set_defaults(run=cmd_seed)

    users = commands.add_parser("users", help="create or reset the demo users a … z")
    users.set_defaults(run=cmd_users)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
        for name in ("vendors", "products"):
            value = getattr(args, name, None)
            if isinstance(value, int) and value < 1:
                raise ConfigurationError(f"--{name} must be at least 1")
        args.run(settings, args)
    except ConfigurationError as error:
        sys.exit(f"suppliers: configuration error: {error}")
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:
        from suppliers.data.importer import CsvError
        from suppliers.embedded.postgres import EmbeddedServerError

        if isinstance(error, CsvError):
            sys.exit(f"suppliers: import refused, database unchanged: {error}")
        if isinstance(error, EmbeddedServerError):
            sys.exit(f"suppliers: cannot start an embedded server: {error}")
        raise


if __name__ == "__main__":
    main()
