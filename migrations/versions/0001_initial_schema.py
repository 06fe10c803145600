"""Initial schema: vendors, products, transactions, users, revoked tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Trigram index behind `GET /products?name=`; pg_trgm is a trusted extension (PostgreSQL 13+).
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "products",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("price", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("required_qualification", sa.CHAR(length=1), nullable=False),
        sa.CheckConstraint(
            "required_qualification IN ('A', 'B', 'C')", name=op.f("ck_products_required_qualification")
        ),
        sa.CheckConstraint("price >= 0", name=op.f("ck_products_price_not_negative")),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_products_quantity_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    op.create_index(op.f("ix_products_name_id"), "products", ["name", "id"], unique=False)
    op.create_index(
        "ix_products_name_trgm",
        "products",
        ["name"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.create_index(op.f("ix_products_quantity"), "products", ["quantity"], unique=False)
    op.create_index(
        op.f("ix_products_required_qualification"), "products", ["required_qualification"], unique=False
    )
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_tokens")),
    )
    op.create_index(op.f("ix_revoked_tokens_expires_at"), "revoked_tokens", ["expires_at"], unique=False)
    op.create_table(
        "vendors",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("qualification", sa.CHAR(length=1), nullable=False),
        sa.CheckConstraint("qualification IN ('A', 'B', 'C')", name=op.f("ck_vendors_qualification")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vendors")),
    )
    op.create_index(op.f("ix_vendors_qualification"), "vendors", ["qualification"], unique=False)
    op.create_table(
        "transactions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column(
            "transaction_date", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint("action IN ('withdrawal', 'addition')", name=op.f("ck_transactions_action")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_transactions_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_transactions_product_id_products"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["vendors.id"], name=op.f("fk_transactions_vendor_id_vendors"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", "product_id", name=op.f("pk_transactions")),
    )
    op.create_index(
        op.f("ix_transactions_product_id_transaction_date"),
        "transactions",
        ["product_id", "transaction_date"],
        unique=False,
    )
    op.create_index(
        op.f("ix_transactions_transaction_date"), "transactions", ["transaction_date"], unique=False
    )
    op.create_index(
        op.f("ix_transactions_vendor_id_transaction_date"),
        "transactions",
        ["vendor_id", "transaction_date"],
        unique=False,
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=True),
        sa.Column("role", sa.String(length=16), server_default="vendor", nullable=False),
        sa.CheckConstraint(
            "role = 'operator' OR vendor_id IS NOT NULL", name=op.f("ck_users_vendor_user_has_vendor")
        ),
        sa.CheckConstraint("role IN ('vendor', 'operator')", name=op.f("ck_users_role")),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["vendors.id"], name=op.f("fk_users_vendor_id_vendors"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )


def downgrade() -> None:
    op.drop_table("users")
    op.drop_index(op.f("ix_transactions_vendor_id_transaction_date"), table_name="transactions")
    op.drop_index(op.f("ix_transactions_transaction_date"), table_name="transactions")
    op.drop_index(op.f("ix_transactions_product_id_transaction_date"), table_name="transactions")
    op.drop_table("transactions")
    op.drop_index(op.f("ix_vendors_qualification"), table_name="vendors")
    op.drop_table("vendors")
    op.drop_index(op.f("ix_revoked_tokens_expires_at"), table_name="revoked_tokens")
    op.drop_table("revoked_tokens")
    op.drop_index(op.f("ix_products_required_qualification"), table_name="products")
    op.drop_index(op.f("ix_products_quantity"), table_name="products")
    op.drop_index(
        "ix_products_name_trgm",
        table_name="products",
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.drop_index(op.f("ix_products_name_id"), table_name="products")
    op.drop_table("products")
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
