"""The stack running for real: API → the real collector → the real Prometheus, every expression answered.

Run here as in compose, at compose's versions (`make tools` builds them): the API on real PostgreSQL
and Redis under a mixed load exports OTLP to the agent collector running the shipped
otel-collector.yaml; the agent scrapes PostgreSQL (as the `otel_monitor` role that
compose/postgres/10-otel-monitor.sh creates), Redis and this host and routes the spans to a gateway
running otel-gateway.yaml, which derives span metrics and the service graph and tail-samples; both
push metrics to Prometheus 3 started with compose's flags and compose/prometheus/prometheus.yml.
Tempo and Loki cannot run here (AGPL, not built; no Docker): the project's own OTLP receiver takes
their place and must receive the spans and logs. (Two gateways and the sampling itself:
test_stack_sampling.py.)

What differs from compose, and why (everything else is the shipped files as they are):
  * endpoints are loopback ports, set through the collectors' ${env:…} variables and, for
    Prometheus, by rewriting the scrape targets (its file has no variables); the agent finds the
    gateway at 127.0.0.1 instead of asking DNS for `otel-gateway`;
  * the gateway keeps half of the ordinary traces (compose: 10 %), so the stand-in for Tempo sees
    both decisions in a short run, and decides 2 s after a trace's first span (compose: 10 s);
  * intervals are seconds instead of 15-30 s (the collector's COLLECTOR_METRICS_INTERVAL, the API's
    OTEL_METRIC_EXPORT_INTERVAL, Prometheus' scrape/evaluation and rule-group intervals), so a
    bounded test sees several samples;
  * the scrape jobs of Tempo, Loki and Grafana are left out (not run here).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import httpx
import pytest
import yaml
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    Gauge,
    Metric,
    NumberDataPoint,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from suppliers.devtools.collectors import Collector
from suppliers.embedded.postgres import bin_dir, free_port
from tests.collector_process import tier_as_in_compose
from tests.otlp_receiver import (
    REFUSE_MARK,
    OtlpReceiver,
    attributes,
    logs_request,
    metrics_request,
    spans_request,
)
from tests.prometheus_server import PrometheusServer
from tests.servers import ApiProcess
from tests.toolchain import require_program, require_tool

from .layout import (
    COLLECTOR_CONFIG,
    COMPOSE_DIR,
    GATEWAY_CONFIG,
    PROMETHEUS_CONFIG,
    RULES_DIR,
    compose_environment,
    compose_services,
    load_mapping,
    with_defaults,
)
from .mixed_load import drive_mixed_load
from .promql import PromQLExpression, all_expressions, metric_names, render

PROMTOOL_TESTS = Path(__file__).with_name("promtool")

# Expressions whose data only Tempo's or Loki's own processes produce. None today: span metrics and
# the service graph come from the collector, and no panel reads the backends' own metrics.
NEEDS_TEMPO_OR_LOKI: dict[str, str] = {}


class Serializable(Protocol):
    def SerializeToString(self) -> bytes: ...  # protobuf's spelling


def host_has_swap() -> bool:
    return len(Path("/proc/swaps").read_text().splitlines()) > 1


# Expressions that measure something a machine may not have: where it has it they must return data;
# where it has not, they must return nothing (and not fail).
DEPENDS_ON_THE_HOST = {
    "compose/grafana/dashboards/host.json: Suppliers — Host / Paging [A]": host_has_swap,
}

# The memory_limiter works in percent of the container's limit (compose `mem_limit`).
MEMORY_LIMITERS = {
    service: load_mapping(config)["processors"]["memory_limiter"]
    for service, config in (("otel-collector", COLLECTOR_CONFIG), ("otel-gateway", GATEWAY_CONFIG))
}

SIGNAL_ITEMS = ("spans", "metric_points", "log_records")

_COMPARISON = re.compile(r"(?<![=!<>])(>=|<=|==|!=|>|<)(?!=|~)(?!\s*bool\b)")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-")


def as_verdict(expr: str) -> str:
    """``a > 1 and b > 2`` → ``a > bool 1 and b > bool 2``: an alert's inputs answer whenever they exist.

    An alert expression returns data only while it fires; made ``bool``, it returns its verdict (0 or
    1) whenever the series it compares exist, which is what "the alert can fire" needs.
    """
    outside_selectors = re.split(r"(\{[^}]*\})", expr)
    return "".join(
        part if part.startswith("{") else _COMPARISON.sub(r"\1 bool", part) for part in outside_selectors
    )


@dataclass
class LiveStack:
    api: ApiProcess
    collector: Collector
    gateway: Collector
    prometheus: PrometheusServer
    backends: OtlpReceiver
    started_at: float


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


def stack_prometheus_config(
    workdir: Path, *, prometheus_port: int, collector: Collector, gateways: list[Collector]
) -> dict[str, Any]:
    """compose's prometheus.yml with its targets here: static ones mapped, DNS-found gateways listed."""
    config = load_mapping(PROMETHEUS_CONFIG)
    config["global"]["scrape_interval"] = config["global"]["evaluation_interval"] = "1s"
    config["rule_files"] = [str(path) for path in fast_rules(workdir)]
    here = {
        "localhost:9090": [f"127.0.0.1:{prometheus_port}"],
        "otel-collector:8888": [f"{collector.host}:{collector.telemetry_port}"],
        "otel-gateway:8888": [f"{gateway.host}:{gateway.telemetry_port}" for gateway in gateways],
    }
    jobs = []
    for job in config["scrape_configs"]:
        targets = [target for static in job.get("static_configs", []) for target in static["targets"]]
        targets += [
            f"{name}:{found['port']}" for found in job.pop("dns_sd_configs", []) for name in found["names"]
        ]
        if all(target in here for target in targets):
            jobs.append(
                {**job, "static_configs": [{"targets": [t for target in targets for t in here[target]]}]}
            )
    config["scrape_configs"] = jobs
    return config


async def create_monitor_role(database_url: str) -> None:
    """Run compose/postgres/10-otel-monitor.sh against the test server, as the postgres image would."""
    url = urllib.parse.urlsplit(database_url)
    connection = await asyncpg.connect(database_url)
    try:
        if await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = 'otel_monitor'"):
            await connection.execute("DROP OWNED BY otel_monitor; DROP ROLE otel_monitor")
    finally:
        await connection.close()
    environment = {
        **os.environ,
        "PATH": f"{bin_dir()}:{os.environ['PATH']}",
        "PGHOST": url.hostname or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_DB": url.path.lstrip("/"),
        "OTEL_MONITOR_PASSWORD": compose_environment("postgres")["OTEL_MONITOR_PASSWORD"],
    }
    subprocess.run(
        ["bash", str(COMPOSE_DIR / "postgres" / "10-otel-monitor.sh")],
        env=environment,
        check=True,
        capture_output=True,
        timeout=60,
    )


def send_refused_telemetry(collector: Collector) -> None:
    """Telemetry each backend refuses for good, sent to the collector as any OTLP client would.

    Exporters count only data they gave up on (send_failed); without it those series, and the alerts
    on them, would not exist. Prometheus refuses a sample from a client whose clock is two hours
    behind (400 "out of bounds") by itself; the Tempo and Loki stand-ins refuse what is marked.
    """

    def resource(name: str, **extra: bool) -> Resource:
        pairs = {"service.name": AnyValue(string_value=name)}
        pairs.update({key: AnyValue(bool_value=value) for key, value in extra.items()})
        return Resource(attributes=[KeyValue(key=key, value=value) for key, value in pairs.items()])

    now = time.time_ns()
    marked = resource("refused-by-backends", **{REFUSE_MARK: True})
    span = Span(
        trace_id=os.urandom(16),
        span_id=os.urandom(8),
        name="refused",
        start_time_unix_nano=now,
        end_time_unix_nano=now + 1000,
        status=Status(code=Status.STATUS_CODE_ERROR),  # kept by the gateway's sampler: it must reach Tempo
    )
    requests: dict[str, Serializable] = {
        "/v1/traces": spans_request(marked, [span]),
        "/v1/logs": logs_request(
            marked, [LogRecord(time_unix_nano=now, body=AnyValue(string_value="refused"))]
        ),
        "/v1/metrics": metrics_request(
            resource("skewed-clock"),
            [
                Metric(
                    name="skewed.clock",
                    gauge=Gauge(
                        data_points=[NumberDataPoint(time_unix_nano=now - 2 * 3600 * 10**9, as_double=1.0)]
                    ),
                )
            ],
        ),
    }
    for path, request in requests.items():
        response = httpx.post(
            collector.otlp_http_endpoint + path,
            content=request.SerializeToString(),
            headers={"Content-Type": "application/x-protobuf"},
            timeout=10,
        )
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
async def stack(
    database_url: str, redis_url: str, db: asyncpg.Pool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveStack]:
    require_tool("otelcol")
    require_tool("prometheus")
    workdir = tmp_path_factory.mktemp("stack")
    await create_monitor_role(database_url)
    prometheus_port = free_port()
    with OtlpReceiver(with_grpc=True, refuse_marked=True) as backends:
        prometheus_otlp = f"http://127.0.0.1:{prometheus_port}/api/v1/otlp"
        # The agent is given its one gateway's address (the sampling test finds two through DNS).
        tier = tier_as_in_compose(
            workdir,
            database_url=database_url,
            redis_url=redis_url,
            agent_env={
                "COLLECTOR_METRICS_INTERVAL": "2s",
                "LOKI_OTLP_ENDPOINT": f"{backends.endpoint}/otlp",
                "PROMETHEUS_OTLP_ENDPOINT": prometheus_otlp,
            },
            gateways={
                "otel-gateway": {
                    "COLLECTOR_METRICS_INTERVAL": "2s",
                    "SAMPLING_REST_PERCENT": "50",
                    "SAMPLING_DECISION_WAIT": "2s",
                    "TEMPO_OTLP_ENDPOINT": backends.grpc_endpoint,
                    "PROMETHEUS_OTLP_ENDPOINT": prometheus_otlp,
                }
            },
            through_dns=False,
            agent_name="otel-collector",
        )
        collector, gateway = tier.agent, tier.gateways["otel-gateway"]
        prometheus = PrometheusServer.as_in_compose(
            workdir,
            config=stack_prometheus_config(
                workdir, prometheus_port=prometheus_port, collector=collector, gateways=[gateway]
            ),
            command=[str(with_defaults(flag)) for flag in compose_services()["prometheus"]["command"]],
            port=prometheus_port,
        )
        api = ApiProcess(
            {
                **compose_environment("api"),
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "OTEL_SDK_DISABLED": "false",
                "OTEL_EXPORTER_OTLP_ENDPOINT": collector.otlp_http_endpoint,
                "OTEL_METRIC_EXPORT_INTERVAL": "1000",
                "OTEL_BSP_SCHEDULE_DELAY": "500",
                "SUPPLIERS_LOG_LEVEL": "INFO",
                "SUPPLIERS_AUTO_RESUPPLY": "true",
                "SUPPLIERS_AUTO_RESUPPLY_INTERVAL_SECONDS": "1",
                "SUPPLIERS_SESSION_CACHE_TTL_SECONDS": "1",
            },
            log_path=workdir / "api.log",
        )
        started_at = time.time()
        try:
            prometheus.start()
            tier.start()
            api.start()
            await drive_mixed_load(api.base_url, db, seconds=20)
            send_refused_telemetry(collector)
            # The last batches: the app's export interval, the collector's batch timeout, one flush.
            for expr in (
                'traces_service_graph_request_total{server="redis"}',
                "job:http_server_requests_slower_than_500ms:ratio_rate5m",
                *(f"count_over_time(otelcol_exporter_send_failed_{s}_total[1m]) > 1" for s in SIGNAL_ITEMS),
                'otelcol_processor_tail_sampling_count_traces_sampled_total{decision="not_sampled"}',
            ):
                prometheus.wait_for(expr, timeout=30)
            yield LiveStack(api, collector, gateway, prometheus, backends, started_at)
        finally:
            api.stop()
            tier.stop()
            prometheus.stop()


def expressions_run_here() -> list[PromQLExpression]:
    return [e for e in all_expressions() if e.location not in NEEDS_TEMPO_OR_LOKI]


def test_every_expression_is_run_or_explained() -> None:
    """Between them, the live run and the list of exceptions cover every expression there is."""
    assert len(all_expressions()) == len(expressions_run_here()) + len(NEEDS_TEMPO_OR_LOKI)
    assert len(NEEDS_TEMPO_OR_LOKI) <= 5


@pytest.mark.parametrize("expression", expressions_run_here(), ids=lambda e: e.location)
def test_expression_returns_data(stack: LiveStack, expression: PromQLExpression) -> None:
    query = render(expression.expr, job="suppliers-api", rate_interval="1m")
    if expression.kind == "alert":
        query = as_verdict(query)
    result = stack.prometheus.query(query)
    host_has = DEPENDS_ON_THE_HOST.get(expression.location)
    if host_has is not None and not host_has():
        assert result == [], f"{expression.location}: data for something this machine lacks"
        return
    assert result, f"no data: {expression.location}\n{query}"


def test_exemplars_link_request_durations_to_the_traces_the_backend_received(stack: LiveStack) -> None:
    exemplars = stack.prometheus.exemplars(
        'http_server_request_duration_seconds_bucket{job="suppliers-api"}', since=stack.started_at
    )
    assert exemplars, "no exemplar arrived over OTLP"
    trace_ids = {exemplar["labels"].get("trace_id") for exemplar in exemplars}
    assert all(re.fullmatch(r"[0-9a-f]{32}", str(t)) for t in trace_ids), trace_ids
    received = {span.trace_id.hex() for _, span in stack.backends.spans()}
    assert trace_ids & received, "exemplars point at traces Tempo never got"


def test_service_graph_has_edges_from_the_api_to_postgresql_and_redis(stack: LiveStack) -> None:
    edges = stack.prometheus.query(
        "sum by (client, server, connection_type) (traces_service_graph_request_total)"
    )
    found = {
        (e["metric"]["client"], e["metric"]["server"], e["metric"].get("connection_type")) for e in edges
    }
    assert ("suppliers-api", "postgresql", "database") in found, found
    assert ("suppliers-api", "redis", "database") in found, found


def test_span_metrics_are_by_route_template(stack: LiveStack) -> None:
    rows = stack.prometheus.query(
        'sum by (span_name, http_route) (traces_span_metrics_calls_total{span_kind="SPAN_KIND_SERVER"})'
    )
    names = {row["metric"]["span_name"] for row in rows}
    assert {"POST /transactions", "GET /products/{product_id}", "GET /products"} <= names, names
    assert not [name for name in names if _UUID.search(name)]
    routes = {
        row["metric"].get("http_route") for row in rows if row["metric"]["span_name"] == "POST /transactions"
    }
    assert routes == {"/transactions"}


def test_grafana_service_map_table_series_exist(stack: LiveStack) -> None:
    """Grafana's Service Graph table reads Tempo's span-metric names: the compat rules provide them."""
    calls = stack.prometheus.query(
        'sum by (service, span_name) (rate(traces_spanmetrics_calls_total{span_kind="SPAN_KIND_SERVER"}[1m]))'
    )
    assert {row["metric"].get("service") for row in calls} == {"suppliers-api"}
    p90 = stack.prometheus.query(
        "histogram_quantile(.9, sum(rate(traces_spanmetrics_latency_bucket"
        '{span_kind="SPAN_KIND_SERVER", span_name="POST /transactions"}[1m])) by (le))'
    )
    assert p90 and 0 < float(p90[0]["value"][1]) < 10


def test_collector_metrics_used_by_the_stack_are_the_names_it_serves(stack: LiveStack) -> None:
    def family(name: str) -> str:
        return re.sub(r"_(bucket|sum|count)$", "", name)

    served = {
        family(line.split("{")[0].split(" ")[0])
        for collector in (stack.collector, stack.gateway)
        for line in collector.own_metrics().splitlines()
        if line.startswith("otelcol_")
    }
    used = {family(name) for e in all_expressions() for name in e.base_metrics if name.startswith("otelcol_")}
    assert used, "the dashboards and rules read no collector metric"
    assert used <= served, f"not served by the collector: {sorted(used - served)}"


def test_promtool_unit_tests_feed_only_series_the_real_stack_has(stack: LiveStack) -> None:
    """The alert unit tests are only as good as their input names: each must exist in the live stack."""
    tests = [yaml.safe_load(path.read_text()) for path in PROMTOOL_TESTS.glob("*.test.yml")]
    names = {
        name
        for test_file in tests
        for case in test_file["tests"]
        for series in case["input_series"]
        for name in metric_names(series["series"])
    }
    missing = [name for name in sorted(names) if not stack.prometheus.query(f'group({{__name__="{name}"}})')]
    assert not missing, f"promtool tests feed series the real stack does not have: {missing}"


@pytest.mark.parametrize("service", sorted(MEMORY_LIMITERS))
def test_collector_memory_stays_under_its_memory_limiter_limit(stack: LiveStack, service: str) -> None:
    mem_limit = str(with_defaults(compose_services()[service]["mem_limit"]))
    assert mem_limit.endswith("m")
    limit_bytes = int(mem_limit[:-1]) * 2**20 * MEMORY_LIMITERS[service]["limit_percentage"] / 100
    [peak] = stack.prometheus.query(
        f'max_over_time(otelcol_process_memory_rss_bytes{{job="{service}"}}[10m])'
    )
    assert 0 < float(peak["value"][1]) < limit_bytes, f"peak RSS {float(peak['value'][1]) / 2**20:.0f} MiB"


def test_tempo_and_loki_stand_ins_receive_spans_and_logs_with_their_resource(stack: LiveStack) -> None:
    expected = {"service.name": "suppliers-api", "deployment.environment.name": "compose"}
    span_resources = [resource for resource, _ in stack.backends.spans()]
    log_resources = [resource for resource, _ in stack.backends.logs()]
    assert span_resources and log_resources
    for resource in (*span_resources, *log_resources):
        assert expected.items() <= resource.items(), resource
        assert resource["service.instance.id"] and resource["service.version"]
    spans = [span for _, span in stack.backends.spans()]
    assert any(span.name == "POST /transactions" for span in spans)
    assert any(attributes(span.attributes).get("db.system.name") == "postgresql" for span in spans)
    # Logs keep the trace they were written in: Loki's trace_id structured metadata comes from here.
    assert any(record.trace_id for _, record in stack.backends.logs())
    # Only the app's signals go to the trace and log backends, never the collector's derived metrics.
    assert not stack.backends.received.metrics


def test_infrastructure_metrics_describe_the_host_and_the_servers(stack: LiveStack) -> None:
    [host] = stack.prometheus.query(
        "group by (host_name, deployment_environment_name) (system_memory_usage_bytes)"
    )
    assert host["metric"]["host_name"] == with_defaults("${HOST_NAME:-docker-host}")
    assert host["metric"]["deployment_environment_name"] == "compose"
    mounts = {row["metric"]["mountpoint"] for row in stack.prometheus.query("system_filesystem_usage_bytes")}
    assert "/" in mounts, mounts
    assert not [m for m in mounts if re.match(r"/(dev|proc|sys|run)(/|$)", m)], mounts
    assert stack.prometheus.query('postgresql_db_size_bytes{postgresql_database_name=~"suppliers.*"}')
    assert stack.prometheus.query("redis_clients_connected")


def test_collector_log_has_no_deprecation_and_no_error_but_the_refusals(stack: LiveStack) -> None:
    lines = stack.collector.log().splitlines() + stack.gateway.log().splitlines()
    assert not [line for line in lines if "deprecat" in line.lower()]
    errors = [line for line in lines if "\terror\t" in line]
    refused = [
        line for line in errors if "Exporting failed. Dropping data." in line and "not retryable" in line
    ]
    assert errors == refused, "\n".join(errors)
    exporters = {re.search(r'"otelcol.component.id": "([^"]+)"', line).group(1) for line in refused}  # type: ignore[union-attr]
    assert exporters == {"otlp_grpc/tempo", "otlp_http/loki", "otlp_http/prometheus"}


def waiter_script(target: str, *, attempts: int | None = None) -> str:
    """compose's otel-collector-ready script as its shell receives it, aimed at ``target``."""
    script = str(compose_services()["otel-collector-ready"]["command"][-1]).replace("$$", "$")
    script = script.replace("otel-collector:13133", target)
    return script if attempts is None else script.replace("seq 120", f"seq {attempts}")


def test_the_collector_waiter_exits_0_once_the_collector_answers(stack: LiveStack) -> None:
    busybox = require_program("busybox", install="apt-get install busybox")
    target = f"127.0.0.1:{stack.collector.health_port}"
    done = subprocess.run(
        [busybox, "sh", "-c", waiter_script(target)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr


def test_the_collector_waiter_gives_up_with_a_reason() -> None:
    busybox = require_program("busybox", install="apt-get install busybox")
    closed = f"127.0.0.1:{free_port()}"
    done = subprocess.run(
        [busybox, "sh", "-c", waiter_script(closed, attempts=2)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 1
    assert "did not answer" in done.stderr
