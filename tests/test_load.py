"""The load scenarios in load/ run headless against the real API without an unexpected failure.

Locust runs in its own process (it monkey-patches the standard library with gevent), for a few
seconds per scenario, exactly as `make load` runs it; its CSV report is then read back.
"""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from suppliers.inventory.qualification import QUALIFICATIONS, can_handle
from tests.servers import ApiProcess

LOCUSTFILE = Path(__file__).parents[1] / "load" / "locustfile.py"


def run_scenario(
    user_class: str, base_url: str, report: Path, *, seconds: int = 6, users: int = 3
) -> dict[str, dict[str, str]]:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--users",
            str(users),
            "--spawn-rate",
            str(users),
            "--run-time",
            f"{seconds}s",
            "--host",
            base_url,
            "--csv",
            str(report),
            "--only-summary",
            "--loglevel",
            "WARNING",
            user_class,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    stats_file = report.with_name(report.name + "_stats.csv")
    assert stats_file.exists(), completed.stderr[-3000:]
    with stats_file.open() as rows:
        stats = {row["Name"]: row for row in csv.DictReader(rows)}
    failures = report.with_name(report.name + "_failures.csv").read_text()
    assert completed.returncode == 0 and stats["Aggregated"]["Failure Count"] == "0", (
        failures + completed.stderr[-3000:]
    )
    return stats


@pytest.mark.parametrize(
    ("user_class", "must_include"),
    [
        ("LowUser", ["/transactions (withdrawal)"]),
        ("HighUser", ["/transactions (withdrawal)"]),
        ("ResupplyUser", ["/products/quantity"]),
        ("MixedUser", ["/products", "/transactions (withdrawal)"]),
        (
            "ErrorsUser",
            [
                "/transactions (unknown vendor)",
                "/transactions (unqualified vendor)",
                "/transactions (oversized withdrawal)",
                "/transactions (malformed body)",
            ],
        ),
    ],
)
def test_scenario_runs_without_unexpected_failures(
    api: ApiProcess, tmp_path: Path, user_class: str, must_include: list[str]
) -> None:
    # MixedUser picks its tasks at random, waiting 0.5-2 s between them: enough users and time that
    # each listed one surely comes up. A withdrawal is 4 of 23 weights; 10 users x 12 s make about 80
    # picks after sign-in, so none at all has a chance of (19/23)^80 < 1e-6 (5 users x 8 s, about 20
    # picks, missed it once in CI: 2 %).
    users, seconds = (10, 12) if user_class == "MixedUser" else (3, 6)
    stats = run_scenario(user_class, api.base_url, tmp_path / user_class, users=users, seconds=seconds)
    assert int(stats["Aggregated"]["Request Count"]) > 0
    for name in must_include:
        assert int(stats[name]["Request Count"]) > 0, (name, sorted(stats))


def test_users_renew_their_token_before_it_expires(database_url: str, redis_url: str, tmp_path: Path) -> None:
    api = ApiProcess(
        {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SUPPLIERS_TOKEN_TTL_SECONDS": "3"},
        log_path=tmp_path / "api.log",
    ).start()
    try:
        stats = run_scenario("LowUser", api.base_url, tmp_path / "renewal", seconds=7, users=2)
    finally:
        api.stop()
    # Two users, tokens living 3 s, renewed half-way: several sign-ins each, and no 401.
    assert int(stats["/login/token"]["Request Count"]) >= 6


def test_the_load_generators_copy_of_the_qualification_rule_matches_the_apis() -> None:
    # load/account.py cannot import suppliers (the compose Locust image has only load/).
    spec = importlib.util.spec_from_file_location("account", LOCUSTFILE.with_name("account.py"))
    assert spec is not None and spec.loader is not None
    account = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(account)
    assert tuple(account.HANDLES) == QUALIFICATIONS
    for held in QUALIFICATIONS:
        assert account.HANDLES[held] == tuple(q for q in QUALIFICATIONS if can_handle(held, q))
