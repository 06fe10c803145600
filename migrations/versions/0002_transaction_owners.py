"""Transaction ids belong to the vendor that first used them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

Before this, two vendors could record lines under one transaction id. Each id now has one owner
row; existing ids are given the vendor of their earliest line. The key from (id, vendor_id) is
added NOT VALID, so a database that already holds mixed ids still upgrades: new lines are checked,
old ones are left as they were (VALIDATE CONSTRAINT once they are cleaned up).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "transaction_owners",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["vendor_id"],
            ["vendors.id"],
            name=op.f("fk_transaction_owners_vendor_id_vendors"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transaction_owners")),
        sa.UniqueConstraint("id", "vendor_id", name=op.f("uq_transaction_owners_id_vendor_id")),
    )
    op.execute(
        "INSERT INTO transaction_owners (id, vendor_id) "
        "SELECT DISTINCT ON (id) id, vendor_id FROM transactions ORDER BY id, transaction_date, product_id"
    )
    op.create_foreign_key(
        op.f("fk_transactions_id_transaction_owners"),
        "transactions",
        "transaction_owners",
        ["id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.execute(
        "ALTER TABLE transactions ADD CONSTRAINT fk_transactions_id_vendor_id_transaction_owners "
        "FOREIGN KEY (id, vendor_id) REFERENCES transaction_owners (id, vendor_id) ON DELETE RESTRICT NOT VALID"
    )


def downgrade() -> None:
    op.drop_constraint("fk_transactions_id_vendor_id_transaction_owners", "transactions", type_="foreignkey")
    op.drop_constraint(op.f("fk_transactions_id_transaction_owners"), "transactions", type_="foreignkey")
    op.drop_table("transaction_owners")
