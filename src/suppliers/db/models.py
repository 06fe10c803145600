"""The relational model (SPEC "Data model"). The schema itself is created by Alembic migrations."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    CHAR,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from suppliers.inventory.qualification import QUALIFICATIONS

# The largest value an int4 column (quantities) holds: bounds on input are stated from it.
INT4_MAX = 2**31 - 1
ACTIONS = ("withdrawal", "addition")
ROLES = ("vendor", "operator")

# Stable constraint names make migrations reviewable and downgrades possible.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Vendor(Base):
    __tablename__ = "vendors"
    __table_args__ = (
        CheckConstraint(_one_of("qualification", QUALIFICATIONS), name="qualification"),
        Index(None, "qualification"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    qualification: Mapped[str] = mapped_column(CHAR(1))


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        CheckConstraint(_one_of("required_qualification", QUALIFICATIONS), name="required_qualification"),
        # Low-stock queries (`?below=`, resupply) range-scan on quantity.
        Index(None, "quantity"),
        Index(None, "required_qualification"),
        # The default list order; also the tie-breaker that makes pagination stable.
        Index(None, "name", "id"),
        # `?name=` is a substring search: trigram index keeps it off a sequential scan.
        Index(
            "ix_products_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    quantity: Mapped[int] = mapped_column(Integer)
    required_qualification: Mapped[str] = mapped_column(CHAR(1))


class ProductCount(Base):
    """How many products require each grade, kept exact by triggers on ``products`` (migration 0003).

    Every page of ``GET /products`` says how many rows match. Counting 10,000 products for each
    page cost PostgreSQL five times the page itself; unfiltered, or filtered by grade only, the
    total is read here instead. The triggers fire on inserts, deletes, TRUNCATE and a change of a
    product's grade, never on a stock movement (it updates ``quantity`` only).
    """

    __tablename__ = "product_counts"

    required_qualification: Mapped[str] = mapped_column(CHAR(1), primary_key=True)
    products: Mapped[int] = mapped_column(BigInteger)


class TransactionOwner(Base):
    """Which vendor a transaction id belongs to: the first that used it (NULL: the system's own).

    One row per id, claimed in the same statement that records a line; the foreign keys from
    ``transactions`` make the database itself refuse a line of one vendor under another's id.
    """

    __tablename__ = "transaction_owners"
    __table_args__ = (UniqueConstraint("id", "vendor_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    vendor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("vendors.id", ondelete="RESTRICT"))


class Transaction(Base):
    """One product line of a stock movement; a transaction id may span several lines."""

    __tablename__ = "transactions"
    __table_args__ = (
        CheckConstraint(_one_of("action", ACTIONS), name="action"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        # Every line's id is owned; a vendor's line only under an id that vendor owns (for system
        # lines, vendor_id NULL, MATCH SIMPLE skips the pair and the first key still applies).
        ForeignKeyConstraint(["id"], ["transaction_owners.id"], ondelete="RESTRICT"),
        ForeignKeyConstraint(
            ["id", "vendor_id"],
            ["transaction_owners.id", "transaction_owners.vendor_id"],
            name="fk_transactions_id_vendor_id_transaction_owners",
            ondelete="RESTRICT",
        ),
        Index(None, "transaction_date"),
        Index(None, "vendor_id", "transaction_date"),
        Index(None, "product_id", "transaction_date"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    product_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("products.id", ondelete="RESTRICT"), primary_key=True
    )
    # NULL only for changes the service made itself (automatic resupply).
    vendor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("vendors.id", ondelete="RESTRICT"))
    action: Mapped[str] = mapped_column(String(50))
    quantity: Mapped[int] = mapped_column(Integer)
    transaction_date: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_one_of("role", ROLES), name="role"),
        # A vendor user must act for a vendor; an operator may or may not have one.
        CheckConstraint("role = 'operator' OR vendor_id IS NOT NULL", name="vendor_user_has_vendor"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, server_default=text("gen_random_uuid()"))
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    vendor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("vendors.id", ondelete="SET NULL"))
    role: Mapped[str] = mapped_column(String(16), server_default="vendor")


class RevokedToken(Base):
    """Logged-out tokens, kept until they would have expired anyway.

    Redis holds the same fact for the fast path; this table makes a logout survive a Redis outage.
    """

    __tablename__ = "revoked_tokens"
    __table_args__ = (Index(None, "expires_at"),)

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
