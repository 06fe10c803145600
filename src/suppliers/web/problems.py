"""RFC 9457 problem details for every error, and their description in the OpenAPI schema."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPI, OpenAPIResponse, Operation, PathItem
from litestar.types import ExceptionHandlersMap
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from suppliers.db.failures import Failure, classify
from suppliers.errors import DomainError

PROBLEM_JSON = "application/problem+json"

_log = logging.getLogger(__name__)


class InvalidParam(msgspec.Struct):
    name: str
    reason: str


class ProblemDetail(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An RFC 9457 problem: ``detail`` says what went wrong with this request."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    invalid_params: list[InvalidParam] | None = msgspec.field(default=None, name="invalid-params")


def _slug(title: str) -> str:
    return "urn:suppliers:problem:" + title.lower().replace(" ", "-")


def problem_response(
    request: Request[Any, Any, Any],
    *,
    status: int,
    title: str,
    detail: str,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    invalid_params: list[InvalidParam] | None = None,
) -> Response[ProblemDetail]:
    body = ProblemDetail(
        type=type_,
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        invalid_params=invalid_params,
    )
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _domain_error(request: Request[Any, Any, Any], error: DomainError) -> Response[ProblemDetail]:
    return problem_response(
        request,
        status=error.status,
        title=error.title,
        detail=error.detail,
        type_=_slug(error.title),
        headers=error.headers,
    )


def _validation_error(request: Request[Any, Any, Any], error: ValidationException) -> Response[ProblemDetail]:
    params = [
        InvalidParam(
            name=str(item.get("key") or item.get("source") or "body"), reason=str(item.get("message"))
        )
        for item in (error.extra if isinstance(error.extra, list) else [])
        if isinstance(item, dict)
    ]
    detail = "; ".join(f"{p.name}: {p.reason}" for p in params) or error.detail
    return problem_response(
        request,
        status=422,
        title="Invalid request",
        detail=detail,
        type_=_slug("Invalid request"),
        invalid_params=params or None,
    )


def _http_error(request: Request[Any, Any, Any], error: HTTPException) -> Response[ProblemDetail]:
    status = error.status_code
    phrase = HTTPStatus(status).phrase
    headers = dict(error.headers or {})
    if isinstance(error, NotAuthorizedException):
        headers.setdefault("WWW-Authenticate", "Bearer")
    if status == 400:  # malformed bodies Litestar could not even decode: still the client's fault
        return problem_response(
            request, status=422, title="Invalid request", detail=error.detail, type_=_slug("Invalid request")
        )
    detail = error.detail if error.detail and error.detail != phrase else _DEFAULT_DETAIL.get(status, phrase)
    return problem_response(request, status=status, title=phrase, detail=detail, headers=headers)


def _mark_server_span(error: Exception) -> None:
    """Handled here, the exception never reaches the tracing middleware: put it on the span ourselves."""
    span = trace.get_current_span()
    span.record_exception(error)
    span.set_status(StatusCode.ERROR, f"{type(error).__name__}: {error}")


# Answers to the service's own failures: a 503 says when to come back. A restart of PostgreSQL takes
# a second or two; a busy pool frees up as soon as the requests ahead finish.
_UNAVAILABLE = ("the database cannot be reached right now; try again shortly", "2")
_BUSY = ("the service is busy: no database connection came free in time; try again shortly", "1")


def _database_failure(request: Request[Any, Any, Any], error: Exception) -> Response[ProblemDetail]:
    failure = classify(error)
    if failure is None:
        return _unexpected(request, error)
    if failure is Failure.INVALID_INPUT:
        # A check we should have made at decoding slipped through: still the request's fault.
        _log.warning("database refused a value on %s %s: %s", request.method, request.url.path, error)
        return problem_response(
            request,
            status=422,
            title="Invalid request",
            detail="a value in this request is outside what the service can store or compare",
            type_=_slug("Invalid request"),
        )
    if failure is Failure.BUSY:
        # Under overload this happens to many requests a second: the pool's timeout counter
        # (db.client.connection.timeouts) and the span's status say it; a log line or a traceback
        # per shed request would add to the load it is shedding.
        trace.get_current_span().set_status(StatusCode.ERROR, "database busy: no free connection in time")
    else:
        _mark_server_span(error)
        _log.warning("database unavailable on %s %s: %s", request.method, request.url.path, error)
    detail, retry_after = _BUSY if failure is Failure.BUSY else _UNAVAILABLE
    return problem_response(
        request,
        status=503,
        title="Service Unavailable",
        detail=detail,
        type_=_slug(f"Database {failure.value}"),
        headers={"Retry-After": retry_after},
    )


def _unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[ProblemDetail]:
    _mark_server_span(error)
    _log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return problem_response(
        request,
        status=500,
        title="Internal Server Error",
        detail="the server failed to handle this request; its trace id points at the cause",
    )


_DEFAULT_DETAIL = {
    401: "send a bearer token: POST /login/token with your username and password",
    404: "no resource at this address",
    405: "this address does not accept that method",
}


def status_for(error: Exception) -> int:
    """The status the handlers below answer ``error`` with (the access log names it)."""
    if isinstance(error, DomainError):
        return error.status
    if isinstance(error, ValidationException):
        return 422
    if isinstance(error, HTTPException):
        return 422 if error.status_code == 400 else error.status_code
    failure = classify(error)
    if failure is None:
        return 500
    return 422 if failure is Failure.INVALID_INPUT else 503


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: _domain_error,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    # db/failures.py decides what each database failure means; what it does not know is a 500.
    Exception: _database_failure,
}


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI responses for the given error statuses, each a problem detail."""
    return {
        status: ResponseSpec(
            data_container=ProblemDetail,
            media_type=PROBLEM_JSON,
            description=_DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
            generate_examples=False,
        )
        for status in statuses
    }


_DESCRIPTIONS = {
    401: "Missing, expired, revoked or invalid bearer token",
    403: "The signed-in user may not do this",
    404: "The resource does not exist",
    409: "The request conflicts with the current state",
    422: "The request is malformed: see invalid-params",
    429: "Too many attempts: see Retry-After",
    503: "A dependency is unavailable",
}


def document_validation_as_422(openapi: OpenAPI, problem_422: OpenAPIResponse) -> None:
    """Litestar documents validation failures as its own 400 body; ours are 422 problem details."""
    for item in (openapi.paths or {}).values():
        if not isinstance(item, PathItem):
            continue
        for operation in (item.get, item.put, item.post, item.delete, item.patch):
            if not isinstance(operation, Operation) or not operation.responses:
                continue
            if operation.responses.pop("400", None) is not None:
                operation.responses.setdefault("422", problem_422)
