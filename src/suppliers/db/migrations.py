"""Run Alembic from code, against an explicit database URL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from suppliers.db.urls import sqlalchemy_url


def migrations_dir() -> Path:
    # A source checkout (and an editable install) keeps migrations/ at the repository top;
    # the container image copies it into the working directory.
    for candidate in (Path(__file__).resolve().parents[3] / "migrations", Path.cwd() / "migrations"):
        if (candidate / "env.py").exists():
            return candidate
    raise FileNotFoundError(
        "cannot find the migrations/ folder (run from the repository or the image's /app)"
    )


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["database_url"] = sqlalchemy_url(database_url)
    return config


def _off_loop(fn: object, *args: object) -> None:
    """env.py runs its own event loop; from inside a running loop, give it a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        fn(*args)  # type: ignore[operator]
        return
    import threading

    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn(*args)  # type: ignore[operator]
        except BaseException as error:  # re-raised in the caller's thread
            errors.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def upgrade(database_url: str, revision: str = "head") -> None:
    _off_loop(command.upgrade, alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    _off_loop(command.downgrade, alembic_config(database_url), revision)
