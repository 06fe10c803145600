"""Login, logout and resolving a token to its user (session cache first, database on a miss)."""

from __future__ import annotations

import contextlib
import logging
import uuid
from datetime import UTC, datetime, timedelta

from opentelemetry import trace
from opentelemetry.trace import Tracer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from suppliers.auth.errors import InvalidCredentials, TooManyAttempts
from suppliers.auth.passwords import verify_password
from suppliers.auth.principal import Principal
from suppliers.auth.rate_limit import LoginLimiter
from suppliers.auth.repositories import StoredUser, UserRepository
from suppliers.auth.session_cache import Revoked, SessionCache
from suppliers.cache.gate import RedisUnavailable
from suppliers.errors import DomainError
from suppliers.telemetry.attributes import CACHE_RESULT, ENDUSER_ID, LOGIN_OUTCOME
from suppliers.telemetry.instruments import Instruments
from suppliers.telemetry.outcomes import outcome_told
from suppliers.telemetry.spans import business_span


def _principal(row: StoredUser) -> Principal:
    return Principal(user_id=row.id, username=row.username, vendor_id=row.vendor_id, role=row.role)


def seconds_left(expires_at: datetime) -> int:
    return int((expires_at - datetime.now(UTC)).total_seconds())


_log = logging.getLogger(__name__)


class AuthService:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        cache: SessionCache | None,
        limiter: LoginLimiter,
        session_ttl_seconds: int,
        tracer: Tracer,
        instruments: Instruments,
    ) -> None:
        self._sessions = session_factory
        self._cache = cache
        self._limiter = limiter
        self._session_ttl = session_ttl_seconds
        self._tracer = tracer
        self._instruments = instruments

    async def login(self, username: str, password: str, *, jti: str, token_ttl: timedelta) -> Principal:
        """Check the credentials and open a session for token ``jti``. Raises a DomainError on refusal."""

        def refused(error: DomainError) -> None:
            _log.info(
                "login refused for %r: %s", username, error.outcome, extra={LOGIN_OUTCOME: error.outcome}
            )

        with (
            business_span(self._tracer, "auth.login", {ENDUSER_ID: username}) as span,
            outcome_told(span, LOGIN_OUTCOME, self._instruments.logins, on_refusal=refused),
        ):
            return await self._login(username, password, jti=jti, token_ttl=token_ttl)

    async def _login(self, username: str, password: str, *, jti: str, token_ttl: timedelta) -> Principal:
        blocked = await self._limiter.admit(username)
        if blocked:
            raise TooManyAttempts(blocked)
        async with self._sessions() as session:
            row = await UserRepository(session).by_username(username)
        if not await verify_password(row.password_hash if row else None, password) or row is None:
            raise InvalidCredentials()
        await self._limiter.reset(username)
        principal = _principal(row)
        await self._cache_put(jti, principal, min(self._session_ttl, int(token_ttl.total_seconds())))
        return principal

    async def principal_for(self, *, username: str, jti: str, expires_at: datetime) -> Principal | None:
        """The user a valid token speaks for, or None if it was revoked or the user is gone.

        No span of its own: on a cache hit (nearly every request) the lookup is the Redis ``GET``,
        whose client span already says it, and a wrapper span would double the cost of saying so.
        The result goes on the request's span instead, where a trace search finds it
        (``suppliers.session_cache.result``); a miss shows its SQL and Redis ``SET`` under it too.
        """
        cached, result = await self._cache_get(jti)
        trace.get_current_span().set_attribute(CACHE_RESULT, result)
        if isinstance(cached, Revoked):
            return None
        if cached is not None:
            return cached
        async with self._sessions() as session:
            row = await UserRepository(session).active_session_user(username, jti)
        if row is None:
            return None
        principal = _principal(row)
        await self._cache_put(jti, principal, min(self._session_ttl, seconds_left(expires_at)))
        return principal

    async def logout(self, *, jti: str, expires_at: datetime) -> None:
        """Revoke a token: in the database (authoritative), then in the cache (fast path)."""
        with self._tracer.start_as_current_span("auth.logout"):
            async with self._sessions() as session, session.begin():
                await UserRepository(session).revoke(jti, expires_at)
            if self._cache is not None:
                # If Redis misses this write, the database row still revokes the token on every
                # cache miss; a cached session written before the outage can outlive the logout
                # by at most the session TTL.
                with contextlib.suppress(RedisUnavailable):
                    await self._cache.mark_revoked(jti, seconds_left(expires_at))

    async def _cache_get(self, jti: str) -> tuple[Principal | Revoked | None, str]:
        if self._cache is None:
            return None, "disabled"
        try:
            found = await self._cache.get(jti)
        except RedisUnavailable:
            self._instruments.session_cache_lookups.add(1, {CACHE_RESULT: "error"})
            return None, "error"
        result = "miss" if found is None else "hit"
        self._instruments.session_cache_lookups.add(1, {CACHE_RESULT: result})
        return found, result

    async def _cache_put(self, jti: str, principal: Principal, ttl: int) -> None:
        if self._cache is None or ttl <= 0:
            return
        with contextlib.suppress(RedisUnavailable):
            await self._cache.put(jti, principal, ttl)


def new_token_id() -> str:
    return uuid.uuid4().hex
