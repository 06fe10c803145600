"""Import the old demo's CSV files (vendors.csv, products.csv), validated before anything is written."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from suppliers.data.loading import ProductRow, VendorRow
from suppliers.db.models import INT4_MAX
from suppliers.inventory.qualification import QUALIFICATIONS

MAX_PRICE = Decimal("99999999.99")  # numeric(10,2)


class CsvError(ValueError):
    """A bad row: names the file and line, so it can be fixed where it is."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path.name}:{line}: {message}" if line else f"{path.name}: {message}")
        self.path = path
        self.line = line


def _rows(path: Path, header: list[str]) -> Iterator[tuple[int, list[str]]]:
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as error:
        raise CsvError(path, 0, f"cannot read the file: {error.strerror}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            first = next(reader, None)
            if first is None or [c.strip().lower() for c in first] != header:
                raise CsvError(
                    path, 1, f"expected the header {','.join(header)}, found {','.join(first or [])!r}"
                )
            for row in reader:
                if not row or not any(cell.strip() for cell in row):
                    continue
                yield reader.line_num, [cell.strip() for cell in row]
        except (csv.Error, UnicodeDecodeError) as error:
            raise CsvError(path, reader.line_num, f"not valid CSV: {error}") from None


def _uuid(path: Path, line: int, raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise CsvError(path, line, f"{what} {raw!r} is not a UUID") from None


@dataclass(frozen=True, slots=True)
class VendorFile:
    rows: list[VendorRow]
    given_c: int
    """Rows with only an id, given qualification C."""


def read_vendors(path: Path) -> VendorFile:
    """Rows of ``id,qualification``; a row with only an id gets qualification 'C'."""
    rows: list[VendorRow] = []
    given_c = 0
    seen: dict[uuid.UUID, int] = {}
    for line, cells in _rows(path, ["id", "qualification"]):
        if len(cells) > 2:
            raise CsvError(path, line, f"expected at most 2 fields, found {len(cells)}")
        vendor_id = _uuid(path, line, cells[0], "id")
        given = cells[1] if len(cells) == 2 else ""
        qualification = given or "C"
        given_c += not given
        if qualification not in QUALIFICATIONS:
            raise CsvError(path, line, f"qualification {qualification!r} is not one of A, B, C")
        if vendor_id in seen:
            raise CsvError(path, line, f"vendor {vendor_id} already appears on line {seen[vendor_id]}")
        seen[vendor_id] = line
        rows.append((vendor_id, qualification))
    return VendorFile(rows, given_c)


def read_products(path: Path) -> list[ProductRow]:
    rows: list[ProductRow] = []
    seen: dict[uuid.UUID, int] = {}
    for line, cells in _rows(path, ["id", "name", "price", "quantity", "required_qualification"]):
        if len(cells) != 5:
            raise CsvError(path, line, f"expected 5 fields, found {len(cells)}")
        raw_id, name, raw_price, raw_quantity, required = cells
        product_id = _uuid(path, line, raw_id, "id")
        if not name or len(name) > 255 or "\x00" in name:
            raise CsvError(path, line, "name must be 1 to 255 characters")
        try:
            price = Decimal(raw_price)
        except InvalidOperation:
            raise CsvError(path, line, f"price {raw_price!r} is not a number") from None
        if not price.is_finite() or not 0 <= price <= MAX_PRICE:
            raise CsvError(path, line, f"price {raw_price!r} must be between 0 and {MAX_PRICE}")
        try:
            quantity = int(raw_quantity)
        except ValueError:
            raise CsvError(path, line, f"quantity {raw_quantity!r} is not a whole number") from None
        if not 0 <= quantity <= INT4_MAX:
            raise CsvError(path, line, f"quantity {quantity} must be between 0 and {INT4_MAX}")
        if required not in QUALIFICATIONS:
            raise CsvError(path, line, f"required_qualification {required!r} is not one of A, B, C")
        if product_id in seen:
            raise CsvError(path, line, f"product {product_id} already appears on line {seen[product_id]}")
        seen[product_id] = line
        rows.append((product_id, name, price.quantize(Decimal("0.01")), quantity, required))
    return rows
