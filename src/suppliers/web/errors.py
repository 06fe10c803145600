"""What every error becomes: one table of answers, read by the exception handler and the access log.

`answer_for` decides status, title, detail and headers for any exception; `handle` renders that answer
as a problem detail and tells the span and the log what they need to know. The access log's status
is `answer_for(error).status`, so the two can never disagree.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import Enum
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.types import ExceptionHandlersMap
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from suppliers.db.failures import Failure, classify
from suppliers.errors import DomainError
from suppliers.web.problems import InvalidParam, ProblemDetail, problem_response, problem_type

_log = logging.getLogger(__name__)


class Fault(Enum):
    """Whose fault an answer is, which decides what the span and the log say about it."""

    CLIENT = "client"  # the request's: nothing to record beyond the status
    REFUSED_VALUE = "refused_value"  # a value the database refused: a check we should have made earlier
    BUSY = "busy"  # no free database connection in time: counted, not logged (shed load must stay cheap)
    UNAVAILABLE = "unavailable"  # the database is down: the span records the exception, one log line
    UNEXPECTED = "unexpected"  # a bug: the span records it, the log has the traceback


@dataclass(frozen=True)
class Answer:
    status: int
    title: str
    detail: str
    type_: str = "about:blank"
    headers: dict[str, str] | None = None
    invalid_params: list[InvalidParam] | None = None
    fault: Fault = Fault.CLIENT
    extra: dict[str, str] = field(default_factory=dict)


_DEFAULT_DETAIL = {
    401: "send a bearer token: POST /login/token with your username and password",
    404: "no resource at this address",
    405: "this address does not accept that method",
}
# Answers to the service's own failures: a 503 says when to come back. A restart of PostgreSQL takes
# a second or two; a busy pool frees up as soon as the requests ahead finish.
_UNAVAILABLE = ("the database cannot be reached right now; try again shortly", "2")
_BUSY = ("the service is busy: no database connection came free in time; try again shortly", "1")
_INVALID = "Invalid request"


def answer_for(error: Exception) -> Answer:
    """The one table: what the service answers ``error`` with."""
    if isinstance(error, DomainError):
        return Answer(error.status, error.title, error.detail, problem_type(error.title), error.headers)
    if isinstance(error, ValidationException):
        return _invalid(error)
    if isinstance(error, HTTPException):
        return _http(error)
    failure = classify(error)  # db/failures.py decides what a database failure means
    if failure is None:
        return Answer(
            500,
            "Internal Server Error",
            "the server failed to handle this request; its trace id points at the cause",
            fault=Fault.UNEXPECTED,
        )
    if failure is Failure.INVALID_INPUT:
        return Answer(
            422,
            _INVALID,
            "a value in this request is outside what the service can store or compare",
            problem_type(_INVALID),
            fault=Fault.REFUSED_VALUE,
        )
    detail, retry_after = _BUSY if failure is Failure.BUSY else _UNAVAILABLE
    return Answer(
        503,
        "Service Unavailable",
        detail,
        problem_type(f"Database {failure.value}"),
        {"Retry-After": retry_after},
        fault=Fault.BUSY if failure is Failure.BUSY else Fault.UNAVAILABLE,
    )


def _invalid(error: ValidationException) -> Answer:
    params = [
        InvalidParam(
            name=str(item.get("key") or item.get("source") or "body"), reason=str(item.get("message"))
        )
        for item in (error.extra if isinstance(error.extra, list) else [])
        if isinstance(item, dict)
    ]
    detail = "; ".join(f"{p.name}: {p.reason}" for p in params) or error.detail
    return Answer(422, _INVALID, detail, problem_type(_INVALID), invalid_params=params or None)


def _http(error: HTTPException) -> Answer:
    status = error.status_code
    if status == 400:  # malformed bodies Litestar could not even decode: still the client's fault
        return Answer(422, _INVALID, error.detail, problem_type(_INVALID))
    phrase = HTTPStatus(status).phrase
    headers = dict(error.headers or {})
    if isinstance(error, NotAuthorizedException):
        headers.setdefault("WWW-Authenticate", "Bearer")
    detail = error.detail if error.detail and error.detail != phrase else _DEFAULT_DETAIL.get(status, phrase)
    return Answer(status, phrase, detail, headers=headers)


def status_for(error: Exception) -> int:
    """The status the handler answers ``error`` with (the access log names it)."""
    return answer_for(error).status


def handle(request: Request[Any, Any, Any], error: Exception) -> Response[ProblemDetail]:
    answer = answer_for(error)
    _tell(request, error, answer)
    return problem_response(
        request,
        status=answer.status,
        title=answer.title,
        detail=answer.detail,
        type_=answer.type_,
        headers=answer.headers,
        invalid_params=answer.invalid_params,
    )


def _tell(request: Request[Any, Any, Any], error: Exception, answer: Answer) -> None:
    """Handled here, the exception never reaches the tracing middleware: the span hears it from us."""
    where = f"{request.method} {request.url.path}"
    match answer.fault:
        case Fault.CLIENT:
            return
        case Fault.REFUSED_VALUE:
            _log.warning("database refused a value on %s: %s", where, error)
        case Fault.BUSY:
            # Under overload this happens to many requests a second: the pool's timeout counter
            # (db.client.connection.timeouts) and the span's status say it; a log line or a
            # traceback per shed request would add to the load it is shedding.
            trace.get_current_span().set_status(StatusCode.ERROR, "database busy: no free connection in time")
        case Fault.UNAVAILABLE:
            _mark_server_span(error)
            _log.warning("database unavailable on %s: %s", where, error)
        case Fault.UNEXPECTED:
            _mark_server_span(error)
            _log.exception("unhandled error on %s", where, exc_info=error)


def _mark_server_span(error: Exception) -> None:
    span = trace.get_current_span()
    span.record_exception(error)
    span.set_status(StatusCode.ERROR, f"{type(error).__name__}: {error}")


# Every exception, whatever its class, through the one table.
EXCEPTION_HANDLERS: ExceptionHandlersMap = {Exception: handle}
