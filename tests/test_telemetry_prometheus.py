"""A real Prometheus scrapes the running app's /metrics and answers PromQL by route template."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import login
from tests.prometheus_server import SCRAPED_API, PrometheusServer
from tests.servers import ApiProcess
from tests.toolchain import require_tool


@pytest.fixture(scope="module")
def scraped_api(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ApiProcess, PrometheusServer]]:
    workdir = tmp_path_factory.mktemp("scraped")
    require_tool("prometheus")  # before starting anything
    api = ApiProcess(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            **SCRAPED_API,
        },
        log_path=workdir / "api.log",
    ).start()
    prometheus = PrometheusServer.scraping(workdir, targets=[f"127.0.0.1:{api.port}"])
    try:
        prometheus.start()
        yield api, prometheus
    finally:
        prometheus.stop()
        api.stop()


async def test_request_duration_is_queryable_by_route_template(
    scraped_api: tuple[ApiProcess, PrometheusServer],
) -> None:
    api, prometheus = scraped_api
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
        headers = await login(http, "a")
        listing = (await http.get("/products?limit=3", headers=headers)).json()
        for item in listing["items"]:
            assert (await http.get(f"/products/{item['id']}", headers=headers)).status_code == 200
        assert (
            await http.get("/products/00000000-0000-0000-0000-000000000000", headers=headers)
        ).status_code == 404

    by_route = prometheus.wait_for(
        "sum by (http_route, http_response_status_code) "
        '(http_server_request_duration_seconds_count{job="suppliers-api", http_route="/products/{product_id}"})'
    )
    counts = {row["metric"]["http_response_status_code"]: float(row["value"][1]) for row in by_route}
    assert counts == {"200": 3.0, "404": 1.0}
    p95 = prometheus.query(
        "histogram_quantile(0.95, sum by (le, http_route) "
        '(http_server_request_duration_seconds_bucket{http_route="/products/{product_id}"}))'
    )
    assert len(p95) == 1 and 0 < float(p95[0]["value"][1]) < 10
    # Ids never become label values.
    routes = {
        row["metric"].get("http_route", "")
        for row in prometheus.query("http_server_request_duration_seconds_count")
    }
    assert not [route for route in routes if any(item["id"] in route for item in listing["items"])]


def test_business_pool_and_process_metrics_are_scraped(
    scraped_api: tuple[ApiProcess, PrometheusServer],
) -> None:
    api, prometheus = scraped_api
    httpx.post(f"{api.base_url}/login/token", data={"username": "a", "password": "wrong"})

    assert prometheus.wait_for('suppliers_auth_logins_total{suppliers_login_outcome="invalid_credentials"}')
    states = {
        row["metric"]["db_client_connection_state"]
        for row in prometheus.wait_for("db_client_connection_count")
    }
    assert states == {"idle", "used"}
    assert prometheus.wait_for("process_cpu_time_seconds_total") and prometheus.wait_for(
        "process_memory_usage_bytes"
    )
    [info] = prometheus.wait_for("target_info")
    assert info["metric"]["service_name"] == "suppliers-api"
