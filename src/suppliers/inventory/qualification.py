"""Qualification order A > B > C: a vendor handles a product when its grade is at least the required one."""

from __future__ import annotations

_RANK = {"A": 3, "B": 2, "C": 1}


def can_handle(vendor_qualification: str, required_qualification: str) -> bool:
    return _RANK[vendor_qualification] >= _RANK[required_qualification]


# Every (held, required) pair the rule allows, as "A>B" strings: the movement statement applies the
# rule in SQL from this list, so the rule itself is only ever written here.
ALLOWED_PAIRS = tuple(
    f"{held}>{required}" for held in _RANK for required in _RANK if can_handle(held, required)
)
