"""Failed-login counting, per username, in a fixed window.

Counts live in Redis so every replica sees them; while Redis is down each process counts on its
own, which still slows a brute force down instead of letting it run free.
"""

from __future__ import annotations

import contextlib
import time

from suppliers.auth.redis_gate import RedisGate, RedisUnavailable


def _key(username: str) -> str:
    return f"suppliers:login-failures:{username}"


class LoginLimiter:
    def __init__(self, gate: RedisGate | None, *, max_failures: int, window_seconds: int) -> None:
        self._gate = gate
        self._max = max_failures
        self._window = window_seconds
        self._local: dict[str, tuple[int, float]] = {}

    async def seconds_blocked(self, username: str) -> int:
        """0 when the user may try; otherwise how long until the window ends."""
        count, ttl = await self._read(username)
        return max(ttl, 1) if count >= self._max else 0

    async def record_failure(self, username: str) -> None:
        if self._gate is not None:
            try:

                async def bump(r):  # type: ignore[no-untyped-def]
                    async with r.pipeline(transaction=True) as pipe:
                        # SET NX starts the window once; INCR keeps its TTL (EXPIRE NX needs Redis 7).
                        pipe.set(_key(username), 0, ex=self._window, nx=True)
                        pipe.incr(_key(username))
                        return await pipe.execute()

                await self._gate.call(bump)
                return
            except RedisUnavailable:
                pass
        count, ends = self._local_entry(username)
        self._local[username] = (count + 1, ends)

    async def reset(self, username: str) -> None:
        self._local.pop(username, None)
        if self._gate is not None:
            with contextlib.suppress(RedisUnavailable):
                await self._gate.call(lambda r: r.delete(_key(username)))

    async def _read(self, username: str) -> tuple[int, int]:
        if self._gate is not None:
            try:

                async def read(r):  # type: ignore[no-untyped-def]
                    async with r.pipeline(transaction=False) as pipe:
                        pipe.get(_key(username))
                        pipe.ttl(_key(username))
                        return await pipe.execute()

                raw, ttl = await self._gate.call(read)
                return int(raw or 0), int(ttl)
            except RedisUnavailable:
                pass
        count, ends = self._local_entry(username)
        return count, int(ends - time.monotonic())

    def _local_entry(self, username: str) -> tuple[int, float]:
        now = time.monotonic()
        count, ends = self._local.get(username, (0, now + self._window))
        if ends <= now:
            count, ends = 0, now + self._window
        if len(self._local) > 10_000:  # bounded memory under a spray of made-up usernames
            self._local = {u: e for u, e in self._local.items() if e[1] > now}
        return count, ends
