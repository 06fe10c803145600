"""The Redis client of one app, built from the settings."""

from __future__ import annotations

from redis.asyncio import Redis

from suppliers.settings import Settings


def redis_client(settings: Settings) -> Redis | None:
    """The client for REDIS_URL, or None without one (sessions then come from PostgreSQL only)."""
    if not settings.redis_url:
        return None
    # Short timeouts: Redis is a cache; waiting long for it costs more than reading PostgreSQL.
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
    )
