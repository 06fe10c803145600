"""The repositories against the real schema, each test in a transaction that is rolled back."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from suppliers.db.models import INT4_MAX
from suppliers.inventory.movements import (
    AlreadyRecorded,
    IdTaken,
    Moved,
    MovementOutcome,
    NotQualified,
    ProductMissing,
    VendorMissing,
)
from suppliers.inventory.qualification import ALLOWED_PAIRS, Qualification
from suppliers.inventory.repositories import (
    ProductRepository,
    StockOverflow,
    StockWouldGoNegative,
    TransactionRepository,
    VendorRepository,
)
from suppliers.inventory.schemas import Action, ProductOut, TransactionOut, VendorOut
from tests.inventory.conftest import AddProduct, AddVendor, stock
from tests.rows import MakeProduct, MakeVendor


async def _move(
    connection: AsyncConnection,
    *,
    product_id: uuid.UUID,
    vendor_id: uuid.UUID,
    action: Action = "withdrawal",
    quantity: int = 1,
    transaction_id: uuid.UUID | None = None,
) -> MovementOutcome:
    return await TransactionRepository(connection).move_stock(
        transaction_id=transaction_id or uuid.uuid4(),
        product_id=product_id,
        vendor_id=vendor_id,
        action=action,
        quantity=quantity,
        allowed=ALLOWED_PAIRS,
    )


async def test_the_hot_statements_run_inside_the_tests_transaction(
    connection: AsyncConnection, add_vendor: AddVendor, add_product: AddProduct, db: asyncpg.Pool
) -> None:
    # They bypass SQLAlchemy for the driver: were they outside the transaction, they would commit.
    vendor_id, product_id = await add_vendor("A"), await add_product(quantity=10)
    transaction_id = uuid.uuid4()
    await _move(connection, product_id=product_id, vendor_id=vendor_id, transaction_id=transaction_id)
    assert await db.fetchval("SELECT count(*) FROM transactions WHERE id = $1", transaction_id) == 0
    assert await db.fetchval("SELECT count(*) FROM transaction_owners WHERE id = $1", transaction_id) == 0


async def test_reads_return_the_response_records_themselves(
    connection: AsyncConnection, add_vendor: AddVendor, add_product: AddProduct
) -> None:
    vendor_id = await add_vendor("B")
    product_id = await add_product(quantity=7, required="C", name="typed widget")
    assert await VendorRepository(connection).get(vendor_id) == VendorOut(id=vendor_id, qualification="B")
    product = await ProductRepository(connection).get(product_id)
    assert isinstance(product, ProductOut)
    assert (product.name, product.quantity, product.required_qualification) == ("typed widget", 7, "C")
    assert await VendorRepository(connection).get(uuid.uuid4()) is None


async def test_a_withdrawal_records_its_line_and_moves_the_stock(
    connection: AsyncConnection, add_vendor: AddVendor, add_product: AddProduct
) -> None:
    vendor_id, product_id = await add_vendor("A"), await add_product(quantity=10)
    transaction_id = uuid.uuid4()
    movement = await _move(
        connection, product_id=product_id, vendor_id=vendor_id, quantity=4, transaction_id=transaction_id
    )
    assert isinstance(movement, Moved) and movement.stock == 6
    line = await TransactionRepository(connection).get_line(transaction_id, product_id)
    assert isinstance(line, TransactionOut)
    assert (line.vendor_id, line.action, line.quantity) == (vendor_id, "withdrawal", 4)


async def test_a_withdrawal_past_zero_is_refused_and_writes_nothing(
    connection: AsyncConnection, add_vendor: AddVendor, add_product: AddProduct
) -> None:
    vendor_id, product_id = await add_vendor("A"), await add_product(quantity=3)
    transaction_id = uuid.uuid4()
    with pytest.raises(StockWouldGoNegative):
        await _move(
            connection, product_id=product_id, vendor_id=vendor_id, quantity=4, transaction_id=transaction_id
        )
    # Refused under its savepoint: the surrounding transaction goes on, with nothing of the movement.
    assert await stock(connection, product_id) == 3
    assert await TransactionRepository(connection).get_line(transaction_id, product_id) is None
    emptied = await _move(connection, product_id=product_id, vendor_id=vendor_id, quantity=3)
    assert isinstance(emptied, Moved) and emptied.stock == 0


async def test_an_addition_past_the_column_is_refused(
    connection: AsyncConnection, add_vendor: AddVendor, add_product: AddProduct
) -> None:
    vendor_id, product_id = await add_vendor("A"), await add_product(quantity=INT4_MAX - 1)
    with pytest.raises(StockOverflow):
        await _move(connection, product_id=product_id, vendor_id=vendor_id, action="addition", quantity=2)
    assert await stock(connection, product_id) == INT4_MAX - 1


async def test_missing_facts_and_refused_pairs_leave_stock_and_ids_alone(
    connection: AsyncConnection, add_vendor: AddVendor, add_product: AddProduct
) -> None:
    vendor_c, product_a = await add_vendor("C"), await add_product(quantity=5, required="A")
    assert await _move(connection, product_id=uuid.uuid4(), vendor_id=vendor_c) == ProductMissing()
    assert await _move(connection, product_id=product_a, vendor_id=uuid.uuid4()) == VendorMissing()
    unqualified = await _move(connection, product_id=product_a, vendor_id=vendor_c)
    assert unqualified == NotQualified(held="C", required="A")
    assert await stock(connection, product_a) == 5


async def test_an_id_is_owned_by_its_first_vendor_and_replays_write_nothing(
    connection: AsyncConnection, add_vendor: AddVendor, add_product: AddProduct
) -> None:
    first, second = await add_vendor("A"), await add_vendor("A")
    product_id = await add_product(quantity=10)
    transaction_id = uuid.uuid4()
    await _move(connection, product_id=product_id, vendor_id=first, quantity=2, transaction_id=transaction_id)
    replay = await _move(
        connection, product_id=product_id, vendor_id=first, quantity=2, transaction_id=transaction_id
    )
    assert replay == AlreadyRecorded()
    taken = await _move(
        connection, product_id=product_id, vendor_id=second, quantity=2, transaction_id=transaction_id
    )
    assert taken == IdTaken()
    assert await stock(connection, product_id) == 8


async def test_lines_of_a_transaction_can_be_narrowed_to_one_vendor(
    connection: AsyncConnection, add_vendor: AddVendor, add_product: AddProduct
) -> None:
    vendor_id = await add_vendor("A")
    products = sorted([await add_product(), await add_product()])
    transaction_id = uuid.uuid4()
    for product_id in products:
        await _move(connection, product_id=product_id, vendor_id=vendor_id, transaction_id=transaction_id)
    repository = TransactionRepository(connection)
    lines = await repository.lines(transaction_id, vendor_id=None)
    assert [line.product_id for line in lines] == products
    assert await repository.lines(transaction_id, vendor_id=uuid.uuid4()) == []


async def test_a_name_search_takes_like_wildcards_literally(
    connection: AsyncConnection, add_product: AddProduct
) -> None:
    marker = uuid.uuid4().hex[:10]
    literal = await add_product(name=f"{marker} 100%_sure")
    await add_product(name=f"{marker} 1000 sure")
    items, total = await ProductRepository(connection).page(
        below=None, required_qualification=None, name=f"{marker} 100%_", limit=10, offset=0
    )
    assert ([item.id for item in items], total) == ([literal], 1)


async def test_a_page_carries_the_total_and_a_page_past_the_end_still_knows_it(
    connection: AsyncConnection, add_product: AddProduct
) -> None:
    marker = uuid.uuid4().hex[:10]
    for _ in range(3):
        await add_product(name=f"{marker} item", quantity=1)
    repository = ProductRepository(connection)
    first, total = await repository.page(below=2, required_qualification="C", name=marker, limit=2, offset=0)
    assert (len(first), total) == (2, 3)
    beyond, total = await repository.page(
        below=2, required_qualification="C", name=marker, limit=2, offset=10
    )
    assert (beyond, total) == ([], 3)
    nothing, total = await repository.page(
        below=2, required_qualification="A", name=marker, limit=2, offset=0
    )
    assert (nothing, total) == ([], 0)


async def test_vendors_filter_by_grade(connection: AsyncConnection, add_vendor: AddVendor) -> None:
    await add_vendor("B")
    items, total = await VendorRepository(connection).page(qualification="B", limit=1000, offset=0)
    assert items and {item.qualification for item in items} == {"B"} and total >= len(items)


async def test_a_vendor_racing_itself_for_a_new_id_records_one_line_and_replays(
    engine: AsyncEngine, make_vendor: MakeVendor, make_product: MakeProduct, db: asyncpg.Pool
) -> None:
    # Retries of one new id in flight together: when two claims pass ON CONFLICT (id)'s check
    # at once, the later one meets the (id, vendor_id) key, which ON CONFLICT does not arbitrate.
    # The window is narrow, so race many ids.
    vendor_id, product_id = await make_vendor("A"), await make_product(quantity=1000)
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    racers, ids = 8, [uuid.uuid4() for _ in range(40)]
    connections = [await autocommit.connect() for _ in range(racers)]
    try:
        for transaction_id in ids:
            movements = await asyncio.gather(
                *(
                    _move(c, product_id=product_id, vendor_id=vendor_id, transaction_id=transaction_id)
                    for c in connections
                )
            )
            assert sum(isinstance(m, Moved) for m in movements) == 1, movements
            assert all(isinstance(m, Moved | AlreadyRecorded) for m in movements), movements
    finally:
        for connection in connections:
            await connection.close()
    lines = await db.fetchval("SELECT count(*) FROM transactions WHERE product_id = $1", product_id)
    assert lines == len(ids)
    assert await db.fetchval("SELECT quantity FROM products WHERE id = $1", product_id) == 1000 - len(ids)


async def test_unfiltered_and_graded_totals_come_from_the_tally_and_stay_exact(
    connection: AsyncConnection, add_product: AddProduct
) -> None:
    repository = ProductRepository(connection)

    async def counted(grade: str | None) -> int:
        where = "" if grade is None else " WHERE required_qualification = :grade"
        found = await connection.scalar(text(f"SELECT count(*) FROM products{where}"), {"grade": grade})
        return int(found or 0)

    async def agree() -> None:
        for grade in (None, "A", "B", "C"):
            _, total = await repository.page(
                below=None, required_qualification=grade, name=None, limit=1, offset=0
            )
            assert total == await counted(grade), grade
            # Past the end, the total comes from the tally's own query.
            _, beyond = await repository.page(
                below=None, required_qualification=grade, name=None, limit=1, offset=10**6
            )
            assert beyond == total, grade

    await agree()
    grades: list[Qualification] = ["A", "A", "B", "C"]
    added = [await add_product(required=grade) for grade in grades]
    await agree()
    # It is the tally that answers, not a count: skewed on purpose, inside the rolled-back transaction.
    skew = text("UPDATE product_counts SET products = products + :by WHERE required_qualification = 'A'")
    await connection.execute(skew, {"by": 1000})
    _, skewed = await repository.page(below=None, required_qualification="A", name=None, limit=1, offset=0)
    assert skewed == await counted("A") + 1000
    await connection.execute(skew, {"by": -1000})
    await connection.execute(
        text("UPDATE products SET required_qualification = 'C' WHERE id = :id"), {"id": added[0]}
    )
    # A stock movement names only quantity: no trigger runs, nothing changes.
    await connection.execute(
        text("UPDATE products SET quantity = quantity + 1 WHERE id = :id"), {"id": added[1]}
    )
    await agree()
    await connection.execute(text("DELETE FROM products WHERE id = ANY(:ids)"), {"ids": added[1:3]})
    await agree()
    await connection.execute(text("TRUNCATE transactions, transaction_owners, products"))
    await agree()
    assert await connection.scalar(text("SELECT count(*) FROM product_counts WHERE products <> 0")) == 0
