"""What GET /health/live and /health/ready return."""

from __future__ import annotations

from typing import Literal

import msgspec

CheckState = Literal["up", "down", "degraded", "disabled"]


class Health(msgspec.Struct):
    status: Literal["ok", "degraded", "unavailable"]
    checks: dict[str, CheckState]
