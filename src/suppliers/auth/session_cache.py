"""The session cache: the signed-in user kept in Redis, keyed by token id, with a TTL."""

from __future__ import annotations

import json
import uuid

from suppliers.auth.principal import Principal
from suppliers.cache.gate import RedisGate

_REVOKED = "revoked"


def _key(jti: str) -> str:
    return f"suppliers:session:{jti}"


def _encode(principal: Principal) -> str:
    return json.dumps(
        {
            "user_id": str(principal.user_id),
            "username": principal.username,
            "vendor_id": str(principal.vendor_id) if principal.vendor_id else None,
            "role": principal.role,
        },
        separators=(",", ":"),
    )


def _decode(raw: str) -> Principal:
    data = json.loads(raw)
    return Principal(
        user_id=uuid.UUID(data["user_id"]),
        username=data["username"],
        vendor_id=uuid.UUID(data["vendor_id"]) if data["vendor_id"] else None,
        role=data["role"],
    )


class Revoked:
    """Marker: the cache knows this token was logged out."""


REVOKED = Revoked()


class SessionCache:
    def __init__(self, gate: RedisGate) -> None:
        self._gate = gate

    async def get(self, jti: str) -> Principal | Revoked | None:
        """The cached principal, REVOKED, or None on a miss. Raises RedisUnavailable."""
        raw = await self._gate.call(lambda r: r.get(_key(jti)))
        if raw is None:
            return None
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        return REVOKED if text == _REVOKED else _decode(text)

    async def put(self, jti: str, principal: Principal, ttl_seconds: int) -> None:
        await self._gate.call(lambda r: r.set(_key(jti), _encode(principal), ex=max(ttl_seconds, 1)))

    async def mark_revoked(self, jti: str, ttl_seconds: int) -> None:
        await self._gate.call(lambda r: r.set(_key(jti), _REVOKED, ex=max(ttl_seconds, 1)))
