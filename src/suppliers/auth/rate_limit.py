"""Login attempts per username, counted in a fixed window before the password is checked.

Counting first, in one atomic step, is what makes the limit hold under concurrency: 30 guesses sent
at once get counts 1 … 30, and only the first ``max_attempts`` are verified. (Reading the count,
verifying, then recording the failure lets all 30 through the read before any is recorded.)

Counts live in Redis so every replica sees them; while Redis is down each process counts on its
own, which still slows a brute force down instead of letting it run free. A successful login
clears the count.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from redis.asyncio import Redis

from suppliers.cache.gate import RedisGate, RedisUnavailable

# INCR and the window's EXPIRE as one step (Redis 6.2 has no EXPIRE NX); a count that somehow
# lost its TTL gets the window again rather than blocking the name forever.
_HIT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""

_LOCAL_LIMIT = 10_000  # names kept in memory while Redis is down; older windows are pruned


def _key(username: str) -> str:
    return f"suppliers:login-attempts:{username}"


class LoginLimiter:
    def __init__(self, gate: RedisGate | None, *, max_attempts: int, window_seconds: int) -> None:
        self._gate = gate
        self._max = max_attempts
        self._window = window_seconds
        self._script = gate.client.register_script(_HIT) if gate is not None else None
        self._local: dict[str, tuple[int, float]] = {}

    async def admit(self, username: str) -> int:
        """Count an attempt for ``username``: 0 if it may go on, else the seconds until the window ends."""
        count, seconds_left = await self._hit(username)
        return max(seconds_left, 1) if count > self._max else 0

    async def reset(self, username: str) -> None:
        self._local.pop(username, None)
        if self._gate is not None:
            with contextlib.suppress(RedisUnavailable):
                await self._gate.call(lambda r: r.delete(_key(username)))

    async def _hit(self, username: str) -> tuple[int, int]:
        if self._gate is not None and self._script is not None:
            script = self._script

            async def hit(client: Redis) -> Any:
                return await script(keys=[_key(username)], args=[self._window], client=client)

            try:
                count, ttl = await self._gate.call(hit)
                return int(count), int(ttl)
            except RedisUnavailable:
                pass
        return self._local_hit(username)

    def _local_hit(self, username: str) -> tuple[int, int]:
        # No await in here: on the event loop, this read-modify-write is one atomic step.
        now = time.monotonic()
        count, ends = self._local.get(username, (0, now + self._window))
        if ends <= now:
            count, ends = 0, now + self._window
        self._local[username] = (count + 1, ends)
        if len(self._local) > _LOCAL_LIMIT:
            self._local = {name: entry for name, entry in self._local.items() if entry[1] > now}
        return count + 1, int(ends - now)
