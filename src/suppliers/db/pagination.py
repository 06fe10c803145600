"""One query for a page and its total, with a fallback when the page lies past the end."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

# Rows and selects of any shape: the repositories return column tuples, not ORM objects.
AnyRow: TypeAlias = Row[*tuple[Any, ...]]
AnySelect: TypeAlias = Select[*tuple[Any, ...]]


async def fetch_page(
    session: AsyncSession, query: AnySelect, *, limit: int, offset: int
) -> tuple[Sequence[AnyRow], int]:
    """Rows of ``query`` in ``[offset, offset + limit)`` and how many rows match in all.

    The total rides along as a window count, so a page costs one round trip; only a page past the
    end (no row to carry the count) needs a second, plain count.
    """
    counted = query.add_columns(func.count().over().label("_total")).limit(limit).offset(offset)
    rows = (await session.execute(counted)).all()
    if rows:
        return rows, int(rows[0]._total)
    if offset == 0:
        return rows, 0
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return rows, int(total or 0)
