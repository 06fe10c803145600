"""Corrections to the OpenAPI schema Litestar generates."""

from __future__ import annotations

from litestar.openapi.spec import OpenAPI, OpenAPIResponse, Operation, PathItem


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
