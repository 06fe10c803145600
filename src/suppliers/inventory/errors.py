"""The inventory's own refusals. The web layer turns each into an RFC 9457 problem detail."""

from __future__ import annotations

import uuid

from suppliers.errors import DomainError


class InsufficientStock(DomainError):
    status = 409
    title = "Insufficient stock"
    outcome = "insufficient_stock"

    def __init__(self, product_id: uuid.UUID, requested: int, available: int) -> None:
        super().__init__(f"product {product_id} has {available} units in stock; cannot withdraw {requested}")
        self.product_id = product_id
        self.requested = requested
        self.available = available


class IdempotencyConflict(DomainError):
    status = 409
    title = "Transaction id already used"
    outcome = "conflict"


class StockLimitExceeded(DomainError):
    status = 409
    title = "Stock limit exceeded"
    outcome = "conflict"


class TransactionIdTaken(DomainError):
    """The id belongs to another vendor (or to the system): nothing more is said about it."""

    status = 409
    title = "Transaction id already used"
    outcome = "conflict"
