"""One shape per record: its fields, in order, are the columns every query for it selects."""

from __future__ import annotations

import msgspec
import pytest
from sqlalchemy import Table

from suppliers.db.models import Product, Transaction, Vendor
from suppliers.inventory.repositories import columns_of
from suppliers.inventory.schemas import ProductOut, TransactionOut, VendorOut


@pytest.mark.parametrize(
    ("record", "model"), [(ProductOut, Product), (VendorOut, Vendor), (TransactionOut, Transaction)]
)
def test_every_field_of_a_record_is_a_column_of_its_table(
    record: type[msgspec.Struct], model: type[Product | Vendor | Transaction]
) -> None:
    table = model.__table__
    assert isinstance(table, Table)
    assert set(columns_of(record)) <= set(table.columns.keys()), record.__name__


def test_the_field_order_is_the_declared_order() -> None:
    assert columns_of(ProductOut) == ("id", "name", "price", "quantity", "required_qualification")
