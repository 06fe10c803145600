"""Qualification grades A > B > C, and the rule: a vendor handles a product when its grade is at
least the product's required one. Every other module takes the grades and the rule from here."""

from __future__ import annotations

from typing import Literal, get_args

Qualification = Literal["A", "B", "C"]
QUALIFICATIONS: tuple[Qualification, ...] = get_args(Qualification)  # best first

_RANK: dict[str, int] = {grade: len(QUALIFICATIONS) - rank for rank, grade in enumerate(QUALIFICATIONS)}


def can_handle(vendor_qualification: str, required_qualification: str) -> bool:
    return _RANK[vendor_qualification] >= _RANK[required_qualification]


# Every (held, required) pair the rule allows, as "A>B" strings: the movement statement applies the
# rule in SQL from this list, so the rule itself is only ever written here.
ALLOWED_PAIRS = tuple(
    f"{held}>{required}"
    for held in QUALIFICATIONS
    for required in QUALIFICATIONS
    if can_handle(held, required)
)
