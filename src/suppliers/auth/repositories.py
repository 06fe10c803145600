"""SQL for users and revoked tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from suppliers.db.models import RevokedToken, User


@dataclass(frozen=True, slots=True)
class StoredUser:
    """A users row, in column order."""

    id: uuid.UUID
    username: str
    password_hash: str
    vendor_id: uuid.UUID | None
    role: str


_USER_COLUMNS = (User.id, User.username, User.password_hash, User.vendor_id, User.role)


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def by_username(self, username: str) -> StoredUser | None:
        row = (await self._session.execute(select(*_USER_COLUMNS).where(User.username == username))).first()
        return None if row is None else StoredUser(*row)

    async def active_session_user(self, username: str, jti: str) -> StoredUser | None:
        """The user behind a token, unless that token was revoked: one round trip for both facts."""
        revoked = exists().where(RevokedToken.jti == jti)
        query = select(*_USER_COLUMNS).where(User.username == username, ~revoked)
        row = (await self._session.execute(query)).first()
        return None if row is None else StoredUser(*row)

    async def revoke(self, jti: str, expires_at: datetime) -> None:
        statement = pg_insert(RevokedToken).values(jti=jti, expires_at=expires_at).on_conflict_do_nothing()
        await self._session.execute(statement)
        # Housekeeping on the (rare) logout path keeps the table from growing without bound.
        await self._session.execute(delete(RevokedToken).where(RevokedToken.expires_at < datetime.now(UTC)))
