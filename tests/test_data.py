"""The generator is deterministic; the importer takes the old demo's CSVs and refuses bad rows whole."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest

from suppliers.data import generator
from suppliers.data.demo import DEMO_USERS, DEMO_VENDOR_IDS
from suppliers.data.importer import CsvError
from suppliers.data.seeding import generate, import_csv
from suppliers.db.migrations import upgrade
from tests.conftest import create_database


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    first = (
        generator.vendors(50, seed=1),
        [r for b in generator.products(300, seed=1, batch_size=64) for r in b],
    )
    again = (
        generator.vendors(50, seed=1),
        [r for b in generator.products(300, seed=1, batch_size=100) for r in b],
    )
    other = generator.vendors(50, seed=2)
    assert first == again
    assert other[26:] != first[0][26:]
    assert [v[0] for v in first[0][:26]] == list(DEMO_VENDOR_IDS)
    assert len(first[1]) == 300 and len({p[0] for p in first[1]}) == 300
    assert any(p[3] < 50 for p in first[1])  # some stock starts low: resupply has work


@pytest.fixture
async def empty_db(server_url: str) -> str:
    url = await create_database(server_url, f"import_{uuid.uuid4().hex[:8]}")
    upgrade(url)
    return url


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


VENDORS = "id,qualification\n" + "".join(f"{v},B\n" for v in DEMO_VENDOR_IDS[:3]) + f"{uuid.uuid4()}\n"
PRODUCT = str(uuid.uuid4())
PRODUCTS = (
    f"id,name,price,quantity,required_qualification\n{PRODUCT},Sprocket,12.5,7,C\n{uuid.uuid4()},Gear,0,0,A\n"
)


async def test_import_of_good_files(empty_db: str, tmp_path: Path) -> None:
    imported = await import_csv(
        empty_db,
        vendors_csv=write(tmp_path / "vendors.csv", VENDORS),
        products_csv=write(tmp_path / "products.csv", PRODUCTS),
    )
    assert (imported.vendors, imported.given_c, imported.products) == (4, 1, 2)
    skipped = imported.skipped_users
    connection = await asyncpg.connect(empty_db)
    try:
        grades = [
            r["qualification"]
            for r in await connection.fetch("SELECT qualification FROM vendors ORDER BY qualification")
        ]
        assert grades == ["B", "B", "B", "C"]  # the row with only an id got C
        product = await connection.fetchrow("SELECT * FROM products WHERE id = $1", uuid.UUID(PRODUCT))
        assert product["name"] == "Sprocket" and str(product["price"]) == "12.50" and product["quantity"] == 7
        users = {r["username"] for r in await connection.fetch("SELECT username FROM users")}
        assert users == {"a", "b", "c"}
        assert set(skipped) == {name for name, *_ in DEMO_USERS} - {"a", "b", "c"}
    finally:
        await connection.close()


@pytest.mark.parametrize(
    ("vendors", "products", "message"),
    [
        (VENDORS + "not-a-uuid,A\n", PRODUCTS, "vendors.csv:6: id 'not-a-uuid' is not a UUID"),
        (VENDORS + f"{uuid.uuid4()},Z\n", PRODUCTS, "vendors.csv:6: qualification 'Z' is not one of A, B, C"),
        ("uuid,grade\n", PRODUCTS, "vendors.csv:1: expected the header id,qualification"),
        (VENDORS, PRODUCTS + f"{uuid.uuid4()},Bolt,abc,1,C\n", "products.csv:4: price 'abc' is not a number"),
        (VENDORS, PRODUCTS + f"{uuid.uuid4()},Bolt,1,-1,C\n", "products.csv:4: quantity -1 must be between"),
        (VENDORS, PRODUCTS + f"{uuid.uuid4()},Bolt,1,1\n", "products.csv:4: expected 5 fields, found 4"),
        (
            VENDORS,
            PRODUCTS + f"{PRODUCT},Again,1,1,C\n",
            "products.csv:4: product " + PRODUCT + " already appears on line 2",
        ),
    ],
)
async def test_a_bad_row_names_file_and_line_and_changes_nothing(
    database_url: str, tmp_path: Path, vendors: str, products: str, message: str
) -> None:
    before = await _counts(database_url)
    with pytest.raises(CsvError) as raised:
        await import_csv(
            database_url,
            vendors_csv=write(tmp_path / "vendors.csv", vendors),
            products_csv=write(tmp_path / "products.csv", products),
        )
    assert str(raised.value).startswith(message)
    assert await _counts(database_url) == before


async def test_a_database_refusal_rolls_the_import_back(empty_db: str, tmp_path: Path) -> None:
    """Rows that pass every check here but that the database refuses still leave nothing behind."""
    await import_csv(
        empty_db,
        vendors_csv=write(tmp_path / "v.csv", VENDORS),
        products_csv=write(tmp_path / "p.csv", PRODUCTS),
    )
    before = await _counts(empty_db)
    connection = await asyncpg.connect(empty_db)
    try:
        # NOT VALID: the rows already there stay; only new rows are checked.
        await connection.execute(
            "ALTER TABLE products ADD CONSTRAINT no_gears CHECK (name <> 'Gear') NOT VALID"
        )
    finally:
        await connection.close()
    with pytest.raises(CsvError, match=r"^p\.csv: the database refused its rows: .*no_gears"):
        await import_csv(
            empty_db,
            vendors_csv=write(tmp_path / "v.csv", VENDORS),
            products_csv=write(tmp_path / "p.csv", PRODUCTS),
        )
    assert await _counts(empty_db) == before


def _import_command(tmp_path: Path, database_url: str, vendors: str) -> subprocess.CompletedProcess[str]:
    """`suppliers data import` as a user runs it, on ``vendors`` and the test's products."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "suppliers",
            "data",
            "import",
            "--vendors",
            str(write(tmp_path / "vendors.csv", vendors)),
            "--products",
            str(write(tmp_path / "products.csv", PRODUCTS)),
        ],
        env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_command_line_says_what_it_imported(tmp_path: Path, empty_db: str) -> None:
    done = _import_command(tmp_path, empty_db, VENDORS)
    assert done.returncode == 0, done.stderr
    first = done.stderr.splitlines()[0]
    assert first.startswith("suppliers: imported 4 vendors (1 given qualification C: none in the file) from ")
    assert "and 2 products from " in first and first.endswith(" s")


def test_the_command_line_reports_a_bad_file_in_one_line(tmp_path: Path, database_url: str) -> None:
    done = _import_command(tmp_path, database_url, VENDORS + "oops,A\n")
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        == "suppliers: import refused, database unchanged: vendors.csv:6: id 'oops' is not a UUID"
    )


def test_misconfiguration_is_one_clear_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "suppliers", "db", "upgrade"],
        env={"DATABASE_URL": "mysql://nope", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "suppliers: configuration error: DATABASE_URL must start with one of postgresql://, postgres://, "
        "postgresql+asyncpg://"
    )


async def test_generate_at_scale_uses_copy(empty_db: str) -> None:
    await generate(empty_db, vendors=200, products=120_000, seed=3)
    connection = await asyncpg.connect(empty_db)
    try:
        assert await connection.fetchval("SELECT count(*) FROM products") == 120_000
        assert await connection.fetchval("SELECT count(*) FROM vendors") == 200
        assert await connection.fetchval("SELECT count(*) FROM users") == 26
        assert await connection.fetchval("SELECT role FROM users WHERE username = 'a'") == "operator"
    finally:
        await connection.close()


async def _counts(url: str) -> tuple[int, int, int]:
    connection = await asyncpg.connect(url)
    try:
        return (
            await connection.fetchval("SELECT count(*) FROM vendors"),
            await connection.fetchval("SELECT count(*) FROM products"),
            await connection.fetchval("SELECT count(*) FROM users"),
        )
    finally:
        await connection.close()
