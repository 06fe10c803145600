"""RFC 9457 problem details: the body every error answers with, and how routes document them."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.openapi.datastructures import ResponseSpec

PROBLEM_JSON = "application/problem+json"


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


def problem_type(title: str) -> str:
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
