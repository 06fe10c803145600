"""The exception handlers and the status the access log names for an exception never disagree."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from litestar.exceptions import NotAuthorizedException, NotFoundException, ValidationException
from litestar.testing import RequestFactory
from sqlalchemy import exc as sa_exc

from suppliers.auth.errors import TooManyAttempts
from suppliers.inventory.errors import InsufficientStock
from suppliers.web.errors import EXCEPTION_HANDLERS, status_for


def _handler_status(error: Exception) -> int:
    handler = next(
        h for kind, h in EXCEPTION_HANDLERS.items() if isinstance(kind, type) and isinstance(error, kind)
    )
    request = RequestFactory().get("/somewhere")
    return int(handler(request, error).status_code)  # type: ignore[arg-type]


def _sqlstate(code: str) -> asyncpg.PostgresError:
    error = asyncpg.PostgresError("from the server")
    error.sqlstate = code
    return error


@pytest.mark.parametrize(
    "error",
    [
        InsufficientStock(uuid.uuid4(), 5, 1),
        TooManyAttempts(30),
        ValidationException("bad"),
        NotAuthorizedException(),
        NotFoundException(),
        sa_exc.TimeoutError("QueuePool limit reached"),
        _sqlstate("57P01"),
        _sqlstate("22008"),
        _sqlstate("42601"),
        ConnectionRefusedError(),
        RuntimeError("a bug"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_the_access_log_names_the_status_the_handlers_answer(error: Exception) -> None:
    assert status_for(error) == _handler_status(error)
