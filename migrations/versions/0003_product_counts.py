"""Product counts by grade, kept by triggers: a page of products without counting them all.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

``product_counts`` holds one row per required grade. Statement-level triggers with transition
tables add what an INSERT (or COPY) brought and subtract what a DELETE took, a TRUNCATE empties it,
and a row-level trigger moves a product whose grade is changed; an UPDATE that does not name
``required_qualification`` (every stock movement) fires none of them. Filled from the products
present at upgrade.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNT = """
CREATE FUNCTION product_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM product_counts;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO product_counts AS c (required_qualification, products)
        SELECT required_qualification, count(*) FROM added GROUP BY required_qualification
        ON CONFLICT (required_qualification) DO UPDATE SET products = c.products + EXCLUDED.products;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE product_counts AS c SET products = c.products - gone.n
        FROM (SELECT required_qualification, count(*) AS n FROM removed GROUP BY required_qualification) AS gone
        WHERE c.required_qualification = gone.required_qualification;
    ELSE  -- UPDATE OF required_qualification, one row
        UPDATE product_counts SET products = products - 1
        WHERE required_qualification = OLD.required_qualification;
        INSERT INTO product_counts AS c (required_qualification, products)
        VALUES (NEW.required_qualification, 1)
        ON CONFLICT (required_qualification) DO UPDATE SET products = c.products + 1;
    END IF;
    RETURN NULL;
END
$$
"""
_TRIGGERS = (
    "CREATE TRIGGER product_counts_insert AFTER INSERT ON products REFERENCING NEW TABLE AS added "
    "FOR EACH STATEMENT EXECUTE FUNCTION product_counts_follow()",
    "CREATE TRIGGER product_counts_delete AFTER DELETE ON products REFERENCING OLD TABLE AS removed "
    "FOR EACH STATEMENT EXECUTE FUNCTION product_counts_follow()",
    "CREATE TRIGGER product_counts_truncate AFTER TRUNCATE ON products "
    "FOR EACH STATEMENT EXECUTE FUNCTION product_counts_follow()",
    "CREATE TRIGGER product_counts_regrade AFTER UPDATE OF required_qualification ON products FOR EACH ROW "
    "WHEN (OLD.required_qualification IS DISTINCT FROM NEW.required_qualification) "
    "EXECUTE FUNCTION product_counts_follow()",
)


def upgrade() -> None:
    op.create_table(
        "product_counts",
        sa.Column("required_qualification", sa.CHAR(length=1), nullable=False),
        sa.Column("products", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("required_qualification", name=op.f("pk_product_counts")),
    )
    op.execute(_COUNT)
    for trigger in _TRIGGERS:
        op.execute(trigger)
    # CREATE TRIGGER holds off every write to products until this commits: none is missed or doubled.
    op.execute(
        "INSERT INTO product_counts (required_qualification, products) "
        "SELECT required_qualification, count(*) FROM products GROUP BY required_qualification"
    )


def downgrade() -> None:
    for name in ("insert", "delete", "truncate", "regrade"):
        op.execute(f"DROP TRIGGER product_counts_{name} ON products")
    op.execute("DROP FUNCTION product_counts_follow()")
    op.drop_table("product_counts")
