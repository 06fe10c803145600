"""What the playground routes return."""

from __future__ import annotations

import uuid

import msgspec


class LockWaitReport(msgspec.Struct):
    product_id: uuid.UUID
    held_seconds: float
    waited_seconds: float


class DeadlockReport(msgspec.Struct):
    product_ids: list[uuid.UUID]
    victim: str
    error: str
