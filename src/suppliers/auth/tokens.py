"""Access tokens, verified once per token rather than once per request.

A client sends the same token with every request for up to an hour; checking its HMAC signature and
claims each time is the same work with the same answer (about a tenth of a millisecond). The
decoded token is kept, keyed by the exact string that was verified, until it expires. Revocation is
not decided here: every request still asks the session cache (Redis, then PostgreSQL) whether the
token's id was logged out, so a logout on any replica takes effect at once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from litestar.security.jwt import Token

MAX_CACHED_TOKENS = 10_000


class CachedToken(Token):
    _verified: OrderedDict[tuple[str, str, str], Token] = OrderedDict()

    @classmethod
    def decode(
        cls,
        encoded_token: str,
        secret: str,
        algorithm: str,
        audience: str | Sequence[str] | None = None,
        issuer: str | Sequence[str] | None = None,
        require_claims: Sequence[str] | None = None,
        verify_exp: bool = True,
        verify_nbf: bool = True,
        strict_audience: bool = False,
    ) -> Any:
        # The secret is part of the key: apps with other keys (tests build several) share this class.
        key = (encoded_token, secret, algorithm)
        cached = cls._verified.get(key)
        if cached is not None and (not verify_exp or _expires(cached) > datetime.now(UTC)):
            cls._verified.move_to_end(key)
            return cached
        token = super().decode(
            encoded_token,
            secret,
            algorithm,
            audience=audience,
            issuer=issuer,
            require_claims=require_claims,
            verify_exp=verify_exp,
            verify_nbf=verify_nbf,
            strict_audience=strict_audience,
        )
        cls._verified[key] = token
        if len(cls._verified) > MAX_CACHED_TOKENS:
            cls._verified.popitem(last=False)
        return token


def _expires(token: Token) -> datetime:
    return token.exp if token.exp.tzinfo else token.exp.replace(tzinfo=UTC)
