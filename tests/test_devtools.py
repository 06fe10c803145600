"""The harness tests and benchmarks share (suppliers.devtools): the fault tests' verdicts rest on it,
so it must be able to say no."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from suppliers.devtools.collectors import GatewayDns, metric_sum
from suppliers.devtools.processes import ServerDidNotStart, start_and_wait
from suppliers.devtools.withdrawals import CarefulWithdrawals, Ledger, audit, withdrawal_target
from tests.conftest import login


async def test_the_audit_agrees_with_careful_clients_and_catches_each_kind_of_disagreement(
    client: httpx.AsyncClient, database_url: str, db: asyncpg.Pool
) -> None:
    product, vendor = await withdrawal_target(database_url, stock=100)
    ledger = Ledger()
    withdrawals = CarefulWithdrawals(client, await login(client, "a"), product, vendor, ledger)
    await asyncio.gather(*(withdrawals.until_acknowledged(uuid.uuid4()) for _ in range(12)))
    assert len(ledger.acknowledged) == len(ledger.served) == 12
    assert ledger.statuses == {201: 12} and not ledger.unexpected
    assert (await audit(database_url, product, ledger, initial_stock=100)).clean

    # A 201 the database has no row for.
    told_but_missing = Ledger(acknowledged={*ledger.acknowledged, uuid.uuid4()})
    found = await audit(database_url, product, told_but_missing, initial_stock=100)
    assert (found.lost, found.unacknowledged, found.clean) == (1, 0, False)
    # A row no client was told about.
    told_less = Ledger(acknowledged=set(list(ledger.acknowledged)[1:]))
    found = await audit(database_url, product, told_less, initial_stock=100)
    assert (found.lost, found.unacknowledged, found.clean) == (0, 1, False)
    # Stock that moved without a row.
    await db.execute("UPDATE products SET quantity = quantity - 1 WHERE id = $1", product)
    found = await audit(database_url, product, ledger, initial_stock=100)
    assert (found.stock_adds_up, found.clean) == (False, False)


async def test_a_careful_client_does_not_retry_what_no_retry_can_mend(
    client: httpx.AsyncClient, database_url: str
) -> None:
    product, vendor = await withdrawal_target(database_url, stock=0)
    ledger = Ledger()
    withdrawals = CarefulWithdrawals(client, await login(client, "a"), product, vendor, ledger)
    await withdrawals.until_acknowledged(uuid.uuid4())
    assert ledger.statuses == {409: 1} and not ledger.acknowledged
    assert len(ledger.unexpected) == 1 and ledger.unexpected[0].startswith("409 ")


def test_gateway_dns_rewrites_its_file_in_place(tmp_path: Path) -> None:
    """The agent's /etc/hosts is a bind mount of this inode: a new file would go unseen."""
    dns = GatewayDns(tmp_path / "hosts", ["127.0.0.2", "127.0.0.3"])
    inode = dns.path.stat().st_ino
    dns.answer(["127.0.0.2"])
    assert dns.path.stat().st_ino == inode
    assert dns.path.read_text() == "127.0.0.1 localhost\n127.0.0.2 otel-gateway\n"


def test_metric_sum_adds_the_samples_whose_labels_match() -> None:
    text = "\n".join(
        [
            "# TYPE otelcol_exporter_sent_spans_total counter",
            'otelcol_exporter_sent_spans_total{exporter="loadbalancing",job="a"} 5',
            'otelcol_exporter_sent_spans_total{exporter="loadbalancing",job="b"} 7',
            'otelcol_exporter_sent_spans_total{exporter="otlp_grpc/tempo"} 100',
            'otelcol_exporter_sent_spans_total_other{exporter="loadbalancing"} 1000',
        ]
    )
    assert metric_sum(text, "otelcol_exporter_sent_spans_total", exporter="loadbalancing") == 12
    assert metric_sum(text, "otelcol_exporter_sent_spans_total") == 112
    assert metric_sum(text, "absent") == 0


def test_a_server_that_exits_at_start_is_said_in_one_line_with_its_last_words(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    command = [sys.executable, "-c", "import sys; print('starting', flush=True); sys.exit('bad: no port')"]
    with pytest.raises(ServerDidNotStart) as failed:
        start_and_wait(command, log_path=log_path, ready_url="http://127.0.0.1:9/", what="the server")
    assert failed.value.summary == f"the server exited at start: bad: no port (log: {log_path})"
    assert "starting" in str(failed.value)  # the whole tail, for a test's failure report
