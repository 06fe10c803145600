"""What the HTTP API accepts and returns. msgspec structs: validated on decode, fast to encode."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Generic, Literal, TypeVar

import msgspec

from suppliers.inventory.qualification import Qualification

Action = Literal["withdrawal", "addition"]
Item = TypeVar("Item")

# Generous, but far below what int4 columns hold: a single movement this large is a typo, not stock.
MAX_TRANSACTION_QUANTITY = 1_000_000


# Records read from the database are built positionally: their fields, in order, ARE the SELECT
# lists of their queries (repositories.columns_of), so a field added here is selected everywhere.
class VendorOut(msgspec.Struct):
    id: uuid.UUID
    qualification: Qualification


class ProductOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    price: Decimal
    quantity: int
    required_qualification: Qualification


class TransactionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A stock movement. Send your own ``id`` to make retries safe: the same body is applied once."""

    product_id: uuid.UUID
    vendor_id: uuid.UUID
    action: Action
    quantity: Annotated[int, msgspec.Meta(gt=0, le=MAX_TRANSACTION_QUANTITY)]
    id: uuid.UUID | None = None


class TransactionOut(msgspec.Struct):
    id: uuid.UUID
    product_id: uuid.UUID
    vendor_id: uuid.UUID | None
    action: Action
    quantity: int
    transaction_date: datetime


class TransactionDetail(msgspec.Struct, kw_only=True):
    """Every product line recorded under one transaction id."""

    id: uuid.UUID
    lines: list[TransactionOut]


class ResupplyOut(msgspec.Struct, kw_only=True):
    """``transaction_id`` is null when no product was below the threshold."""

    transaction_id: uuid.UUID | None
    count: int
    product_ids: list[uuid.UUID]


class Page(msgspec.Struct, Generic[Item], kw_only=True):
    """One page of a list: ``items`` from ``offset`` on, at most ``limit`` of them, of ``total``."""

    items: list[Item]
    total: int
    limit: int
    offset: int
