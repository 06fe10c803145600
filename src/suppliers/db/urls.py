"""DATABASE_URL in the two spellings its users need, whichever one it was given in.

SQLAlchemy wants the driver in the scheme (``postgresql+asyncpg://``); asyncpg, psql and pgbench
want a plain libpq URL (``postgresql://``). Accepted as input: postgresql://, postgres:// and
postgresql+asyncpg:// (the settings check the scheme).
"""

from __future__ import annotations


def _rest(database_url: str) -> str:
    return database_url.partition("://")[2]


def sqlalchemy_url(database_url: str) -> str:
    return f"postgresql+asyncpg://{_rest(database_url)}"


def libpq_url(database_url: str) -> str:
    return f"postgresql://{_rest(database_url)}"
