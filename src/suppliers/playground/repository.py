"""The SQL the playground runs: sleeps and row locks, never a write."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from suppliers.db.models import Product


class PlaygroundRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def sleep(self, seconds: float) -> None:
        await self.session.execute(select(func.pg_sleep(seconds)))

    async def two_products(self) -> list[uuid.UUID]:
        rows = await self.session.scalars(select(Product.id).order_by(Product.id).limit(2))
        return list(rows)

    async def lock_product(self, product_id: uuid.UUID) -> None:
        """Take the row lock a withdrawal takes; held until the transaction ends."""
        await self.session.execute(select(Product.id).where(Product.id == product_id).with_for_update())
