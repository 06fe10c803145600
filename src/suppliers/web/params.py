"""Parameter types shared by the routes: list paging, and what the app provides by name."""

from __future__ import annotations

from typing import Annotated, TypeAlias, TypeVar

from litestar.di import Dependency
from litestar.params import QueryParameter, SkipValidationMarker

from suppliers.db.models import INT4_MAX

MAX_LIMIT = 1000

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description=f"Rows per page (1-{MAX_LIMIT})")]
# Litestar drops a bound of 0 from the generated schema (it tests the bound for truth), so
# NON_NEGATIVE restates it; without it clients and schemathesis would think -1 is allowed.
NON_NEGATIVE = {"minimum": 0}

Offset = Annotated[
    int,
    QueryParameter(
        ge=0, le=INT4_MAX, schema_extra=NON_NEGATIVE, description="Rows to skip before the page starts"
    ),
]

T = TypeVar("T")

# A part the app provides by name (web/dependencies.py). Not validated per request: Litestar would
# otherwise convert each value against its annotation, field by field for a dataclass like Settings,
# and the values are the app's own.
Provided: TypeAlias = Annotated[T, Dependency(kind="named"), SkipValidationMarker()]
