"""Who is making a request, as the rest of the code sees it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: uuid.UUID
    username: str
    vendor_id: uuid.UUID | None
    role: str

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    def may_act_for(self, vendor_id: uuid.UUID) -> bool:
        return self.is_operator or self.vendor_id == vendor_id
