"""One round trip for a page and its total, returned as typed records.

Lists are the heaviest reads (up to 1,000 rows): they go straight to the pool's asyncpg connection
as prepared statements, and each row is made into its record positionally, with no SQLAlchemy
result processing in between. The statement text is assembled from fixed fragments of the
repository; every value travels as a parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from suppliers.db import driver

Record = TypeVar("Record")


@dataclass(frozen=True, slots=True)
class Listing:
    """What a list selects: ``columns`` (the record's fields, in order) ``FROM table ORDER BY order``."""

    columns: str
    table: str
    order: str
    # A query of the total from a table of counts kept by triggers, for pages whose filters are
    # all on that table's key columns (named as in ``table``): no count of the rows themselves.
    tally: str | None = None


async def fetch_page(
    connection: AsyncConnection,
    listing: Listing,
    into: type[Record],
    *,
    filters: Sequence[tuple[str, Any]] = (),
    limit: int,
    offset: int,
    tallied: bool = False,
) -> tuple[list[Record], int]:
    """Rows in ``[offset, offset + limit)`` made into ``into``, and how many rows match in all.

    ``filters`` are ``(condition, value)`` pairs, the condition with ``{}`` where its value goes,
    e.g. ``("quantity < {}", 10)``. The total rides along as an uncorrelated scalar subquery, which
    PostgreSQL runs once (an InitPlan) beside a page that can still be read from an index in order:
    a window count (``count(*) OVER ()``) would make it read and sort every matching row for every
    page. Only a page past the end (no row to carry the total) needs a second, plain count.
    """
    values: list[Any] = []
    conditions = []
    for condition, value in filters:
        values.append(value)
        conditions.append(condition.format(f"${len(values)}"))
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    # Fragments only from the repositories' constants; every value is a parameter.
    counted = listing.tally if tallied and listing.tally else f"SELECT count(*) FROM {listing.table}"  # noqa: S608
    count = f"{counted}{where}"
    page = (
        f"SELECT {listing.columns}, ({count}) AS total FROM {listing.table}{where} "  # noqa: S608
        f"ORDER BY {listing.order} LIMIT ${len(values) + 1} OFFSET ${len(values) + 2}"
    )
    rows = await driver.fetch(connection, page, *values, limit, offset)
    if rows:
        width = len(rows[0]) - 1
        return [into(*row[:width]) for row in rows], int(rows[0][width])
    if offset == 0:
        return [], 0
    total = await driver.fetchrow(connection, count, *values)
    return [], int(total[0]) if total else 0
