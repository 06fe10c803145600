"""Redis calls that fail fast and stay out of the way while Redis is down.

After a failure, Redis is skipped for a short back-off instead of making every request wait for a
timeout; the next call after the back-off tries again, so service recovers by itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

T = TypeVar("T")

_log = logging.getLogger(__name__)


class RedisUnavailable(Exception):
    """Redis could not be used for this call; the caller falls back."""


class RedisGate:
    def __init__(self, client: Redis, *, backoff_seconds: float = 2.0) -> None:
        self.client = client
        self._backoff = backoff_seconds
        self._down_until = 0.0

    @property
    def looks_up(self) -> bool:
        return time.monotonic() >= self._down_until

    async def call(self, operation: Callable[[Redis], Awaitable[T]]) -> T:
        if not self.looks_up:
            raise RedisUnavailable("redis is in back-off after a recent failure")
        try:
            result = await operation(self.client)
        except (RedisConnectionError, RedisTimeoutError, OSError) as error:
            if self.looks_up:
                _log.warning("redis unavailable, falling back for %.0f s: %s", self._backoff, error)
            self._down_until = time.monotonic() + self._backoff
            raise RedisUnavailable(str(error)) from error
        except RedisError as error:  # a refused command: Redis is up, this call just failed
            _log.warning("redis command failed: %s", error)
            raise RedisUnavailable(str(error)) from error
        return result

    async def ping(self) -> bool:
        """A health probe: ignores the back-off, and ends it when Redis answers."""
        try:
            await self.client.ping()
        except (RedisError, OSError):
            return False
        self._down_until = 0.0
        return True
