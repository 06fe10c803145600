"""Query parameters shared by the list routes."""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter

MAX_LIMIT = 1000

Limit = Annotated[
    int, QueryParameter(ge=1, le=MAX_LIMIT, description=f"Rows per page (1-{MAX_LIMIT})")
]
Offset = Annotated[
    int, QueryParameter(ge=0, le=2**31 - 1, description="Rows to skip before the page starts")
]
