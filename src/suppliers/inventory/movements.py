"""What one stock movement can come to: a typed outcome for each thing its statement found or did.

The movement statement (repositories.py, `movement transactions`) answers with five facts, each
missing where a step did not run. `outcome_of` reads them in one place, so the service matches on
what happened instead of decoding which missing fact means which refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from suppliers.inventory.qualification import Qualification


@dataclass(frozen=True, slots=True)
class ProductMissing:
    """No product has that id."""


@dataclass(frozen=True, slots=True)
class VendorMissing:
    """No vendor has that id."""


@dataclass(frozen=True, slots=True)
class NotQualified:
    """The vendor's grade may not handle the product's: the statement claimed nothing."""

    held: Qualification
    required: Qualification


@dataclass(frozen=True, slots=True)
class IdTaken:
    """The transaction id belongs to another vendor: nothing was written."""


@dataclass(frozen=True, slots=True)
class AlreadyRecorded:
    """This (id, product) line exists already: a retry, to be compared with what was recorded."""


@dataclass(frozen=True, slots=True)
class Moved:
    """The line went in and the stock moved."""

    stamp: datetime
    stock: int


MovementOutcome = ProductMissing | VendorMissing | NotQualified | IdTaken | AlreadyRecorded | Moved


def outcome_of(
    *,
    required: Qualification | None,
    held: Qualification | None,
    owned: bool | None,
    stamp: datetime | None,
    stock: int | None,
) -> MovementOutcome:
    """The statement's five facts as the one thing that happened (its CTEs run in this order)."""
    if required is None:
        return ProductMissing()
    if held is None:
        return VendorMissing()
    if owned is None:  # the id is claimed only for a vendor allowed to handle the product
        return NotQualified(held, required)
    if not owned:
        return IdTaken()
    if stamp is None:
        return AlreadyRecorded()
    if stock is None:  # pragma: no cover - the product was deleted between the facts and the update
        return ProductMissing()
    return Moved(stamp, stock)
