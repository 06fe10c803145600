"""Query parameters shared by the list routes."""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter

MAX_LIMIT = 1000

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description=f"Rows per page (1-{MAX_LIMIT})")]
# Litestar drops a bound of 0 from the generated schema (it tests the bound for truth), so
# NON_NEGATIVE restates it; without it clients and schemathesis would think -1 is allowed.
NON_NEGATIVE = {"minimum": 0}

Offset = Annotated[
    int,
    QueryParameter(
        ge=0, le=2**31 - 1, schema_extra=NON_NEGATIVE, description="Rows to skip before the page starts"
    ),
]
