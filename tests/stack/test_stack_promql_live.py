"""Every PromQL expression of the dashboards and rules, run against a real Prometheus fed by the real app.

Debian's Prometheus scrapes the API's /metrics (job ``suppliers-api``, every second) and evaluates the
stack's own rule files, while a short mixed load runs: successes, refusals, failed logins, a 429,
session-cache misses, 500s from the playground, resupplies. Then each expression must return data.

Labels: the stack sends metrics over OTLP to Prometheus' OTLP receiver, where ``job`` is
``service.name`` (``suppliers-api``) and ``instance`` is ``service.instance.id``; here ``job`` is the
scrape job, named the same, and ``instance`` is ``host:port``. Metric and attribute label names are the
same on both paths (``UnderscoreEscapingWithSuffixes``). The scrape path adds ``otel_scope_*`` labels that
no expression selects on. Alert expressions only return data while they fire, so each is run with its
comparisons made ``bool``: it then returns its inputs' verdict (0 or 1) whenever those inputs exist.
Rule groups are evaluated every second here instead of every 30 s, so a short test sees their results.

Expressions over metrics only the collector produces cannot return data here (no Docker engine, no
collector binary): they are listed in COLLECTOR_ONLY with the reason, and a test keeps that list honest.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import pytest
import yaml

from tests.prometheus_server import SCRAPED_API, PrometheusServer, require_prometheus
from tests.servers import ApiProcess

from .layout import RULES_DIR
from .promql import APP_METRIC_PREFIXES, PromQLExpression, all_expressions, render

COLLECTOR_ONLY = {
    "otelcol_": "the collector's own telemetry (scraped from the collector on :8888 in the stack)",
    "postgresql_": "the collector's postgresql receiver, which queries PostgreSQL as the pg_monitor user",
    "redis_": "the collector's redis receiver (INFO of the Redis server)",
    "system_": "the collector's hostmetrics receiver",
    "traces_span_metrics_": "the collector's span_metrics connector, computed from the spans it receives",
    "traces_service_graph_": "the collector's service_graph connector, computed from the spans it receives",
    "up": "Prometheus' scrape of the collector's own metrics endpoint (the API itself is not scraped there)",
}

_COMPARISON = re.compile(r"(?<![=!<>])(>=|<=|==|!=|>|<)(?!=|~)(?!\s*bool\b)")


def as_verdict(expr: str) -> str:
    """``a > 1 and b > 2`` → ``a > bool 1 and b > bool 2``: data whenever the inputs exist."""
    outside_selectors = re.split(r"(\{[^}]*\})", expr)
    return "".join(
        part if part.startswith("{") else _COMPARISON.sub(r"\1 bool", part) for part in outside_selectors
    )


def app_expressions() -> list[PromQLExpression]:
    return [e for e in all_expressions() if e.source == "app"]


@pytest.fixture(scope="module")
async def fed_prometheus(
    database_url: str, redis_url: str, db: asyncpg.Pool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PrometheusServer]:
    require_prometheus()
    workdir = tmp_path_factory.mktemp("promql-live")
    api = ApiProcess(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            **SCRAPED_API,
            "SUPPLIERS_PLAYGROUND": "true",
            "SUPPLIERS_AUTO_RESUPPLY": "true",
            "SUPPLIERS_AUTO_RESUPPLY_INTERVAL_SECONDS": "1",
            "SUPPLIERS_SESSION_CACHE_TTL_SECONDS": "1",
        },
        log_path=workdir / "api.log",
    ).start()
    prometheus = PrometheusServer(workdir, targets=[f"127.0.0.1:{api.port}"], rule_files=fast_rules(workdir))
    try:
        prometheus.start()
        await drive_mixed_load(api.base_url, db)
        # Two more scrapes and rule evaluations after the last request.
        await asyncio.sleep(3)
        yield prometheus
    finally:
        prometheus.stop()
        api.stop()


def fast_rules(workdir: Path) -> list[Path]:
    """The stack's rule files with every group evaluated each second (they say 30 s), else unchanged."""
    copies = []
    for source in sorted(RULES_DIR.glob("*.yml")):
        rules = yaml.safe_load(source.read_text())
        for group in rules["groups"]:
            group["interval"] = "1s"
        copy = workdir / source.name
        copy.write_text(yaml.safe_dump(rules, sort_keys=False))
        copies.append(copy)
    return copies


def transaction_body(
    product: uuid.UUID, action: str = "withdrawal", quantity: int = 1, *, vendor_id: uuid.UUID
) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "product_id": str(product),
        "vendor_id": str(vendor_id),
        "action": action,
        "quantity": quantity,
    }


async def drive_mixed_load(base_url: str, db: asyncpg.Pool) -> None:
    vendor = uuid.uuid4()
    await db.execute("INSERT INTO vendors (id, qualification) VALUES ($1, 'B')", vendor)
    products = []
    for quantity, required in ((1000, "C"), (60, "C"), (1000, "A"), (0, "C")):
        product = uuid.uuid4()
        await db.execute(
            "INSERT INTO products (id, name, price, quantity, required_qualification) VALUES ($1, $2, $3, $4, $5)",
            product,
            f"promql {product.hex[:8]}",
            Decimal("1.00"),
            quantity,
            required,
        )
        products.append(product)
    plenty, scarce, unqualified, empty = products
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        token = (await http.post("/login/token", data={"username": "a", "password": "a"})).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        for attempt in range(6):  # invalid credentials, then 429 for this name
            await http.post("/login/token", data={"username": "promql-ghost", "password": str(attempt)})
        for round_ in range(3):
            calls = [
                http.post("/transactions", json=transaction_body(plenty, vendor_id=vendor), headers=headers),
                http.post(
                    "/transactions",
                    json=transaction_body(plenty, "addition", 2, vendor_id=vendor),
                    headers=headers,
                ),
                http.post(
                    "/transactions",
                    json=transaction_body(scarce, quantity=1000, vendor_id=vendor),
                    headers=headers,
                ),
                http.post(
                    "/transactions", json=transaction_body(unqualified, vendor_id=vendor), headers=headers
                ),
                http.post(
                    "/transactions", json=transaction_body(plenty, vendor_id=uuid.uuid4()), headers=headers
                ),
                http.get("/products?limit=10", headers=headers),
                http.get(f"/products/{plenty}", headers=headers),
                http.get("/transactions?limit=10", headers=headers),
                http.get("/vendors?limit=5", headers=headers),
                http.get("/playground/error"),
                http.get("/playground/slow?seconds=0.6"),
                http.get("/hello?delay=0"),
            ]
            statuses = [r.status_code for r in await asyncio.gather(*calls)]
            assert statuses == [201, 201, 409, 403, 404, 200, 200, 200, 200, 500, 200, 200], statuses
            if round_ == 0:
                await db.execute("UPDATE products SET quantity = 0 WHERE id = $1", empty)
                assert (await http.put("/products/quantity", headers=headers)).status_code == 200
            await asyncio.sleep(1.5)  # past the session cache TTL: the next lookups miss


@pytest.mark.parametrize("expression", app_expressions(), ids=lambda e: e.location)
def test_expression_returns_data(fed_prometheus: PrometheusServer, expression: PromQLExpression) -> None:
    query = render(expression.expr, job="suppliers-api", rate_interval="1m")
    if expression.kind == "alert":
        query = as_verdict(query)
    assert fed_prometheus.query(query), f"no data: {expression.location}\n{query}"


def explained(metric: str) -> bool:
    return metric == "up" or any(metric.startswith(prefix) for prefix in COLLECTOR_ONLY if prefix != "up")


def test_every_expression_is_either_run_here_or_explained() -> None:
    unexplained = {
        (e.location, name)
        for e in all_expressions()
        if e.source == "collector"
        for name in e.base_metrics
        if not name.startswith(APP_METRIC_PREFIXES) and not explained(name)
    }
    assert not unexplained


def test_as_verdict_makes_only_comparisons_bool() -> None:
    assert as_verdict('a{x!="1", y=~"2"} > (14.4 * 0.005) and b >= 1') == (
        'a{x!="1", y=~"2"} > bool (14.4 * 0.005) and b >= bool 1'
    )
    assert as_verdict("histogram_quantile(0.99, x) > 1") == "histogram_quantile(0.99, x) > bool 1"
