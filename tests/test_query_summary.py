"""SQL span names: the summary of each statement, as the stable database conventions write it."""

from __future__ import annotations

import pytest

from suppliers.inventory.repositories import _ADDITION, _WITHDRAWAL
from suppliers.telemetry.query_summary import summary_of


@pytest.mark.parametrize(
    ("sql", "summary"),
    [
        ("SELECT id, name FROM products WHERE id = $1", "SELECT products"),
        ("select v.id from vendors v join products p on p.id = $1", "SELECT vendors products"),
        ("INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2)", "INSERT revoked_tokens"),
        ("UPDATE products SET quantity = quantity + $1 WHERE quantity < $2", "UPDATE products"),
        ("DELETE FROM revoked_tokens WHERE expires_at < $1", "DELETE revoked_tokens"),
        ("SELECT pg_sleep($1)", "SELECT"),
        ("SELECT count(*) FROM (SELECT id FROM products) AS page", "SELECT products"),
        ("SELECT id FROM products WHERE id = $1 FOR UPDATE SKIP LOCKED", "SELECT products"),
        ("INSERT INTO owners (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET id = $1", "INSERT owners"),
        ("BEGIN;", "BEGIN"),
        ("  /* lock resupply */ SELECT pg_advisory_xact_lock($1)", "lock resupply"),
        ("", "SQL"),
    ],
)
def test_a_statement_is_summarised_by_its_operation_and_tables(sql: str, summary: str) -> None:
    assert summary_of(sql) == summary


def test_a_stock_movement_names_itself() -> None:
    # One statement that reads facts, claims an id, inserts a line and moves stock: its first
    # keyword (WITH) says nothing, its name says what it is.
    assert summary_of(_WITHDRAWAL) == summary_of(_ADDITION) == "movement transactions"
