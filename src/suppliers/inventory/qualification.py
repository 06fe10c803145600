"""Qualification order A > B > C: a vendor handles a product when its grade is at least the required one."""

from __future__ import annotations

_RANK = {"A": 3, "B": 2, "C": 1}


def can_handle(vendor_qualification: str, required_qualification: str) -> bool:
    return _RANK[vendor_qualification] >= _RANK[required_qualification]
