"""Grafana provisioning: data sources with fixed uids and the links between them, and dashboards
that only use those data sources and the metric names the app and the collector really produce."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .layout import (
    COMPOSE_FILE,
    DASHBOARD_PROVIDERS_FILE,
    DASHBOARDS_DIR,
    DATASOURCES_FILE,
    load_yaml,
)
from .promql import APP_METRIC_PREFIXES, all_expressions, dashboard_expressions, iter_panels

PROVISIONED_UIDS = {"prometheus", "tempo", "loki"}
# Grafana's built-in pseudo data source (annotations), not provisioned.
BUILTIN_UIDS = {"-- Grafana --", "grafana"}
REQUIRED_DASHBOARDS = {"api-red", "inventory", "postgresql", "redis", "host", "collector"}

# What the app emits, as Prometheus names (OTLP translation: dots -> underscores, unit suffix,
# _total on counters); the contract the app's telemetry is written against. process_* are
# opentelemetry-instrumentation-system-metrics 0.66b1 (process.cpu.time, process.memory.usage).
APP_METRICS = {
    "http_server_request_duration_seconds_bucket",
    "http_server_request_duration_seconds_count",
    "http_server_request_duration_seconds_sum",
    "http_server_active_requests",
    "suppliers_inventory_transactions_total",
    "suppliers_inventory_units_total",
    "suppliers_inventory_resupplies_total",
    "suppliers_inventory_resupplied_products_total",
    "suppliers_inventory_low_stock_products",
    "suppliers_auth_logins_total",
    "suppliers_auth_session_cache_lookups_total",
    "db_client_connection_count",
    "db_client_connection_max",
    "process_cpu_time_seconds_total",
    "process_memory_usage_bytes",
    "process_memory_virtual_bytes",
    "process_thread_count",
    "process_open_file_descriptor_count",
    "cpython_gc_collections_total",
}

# What the collector produces (names from each component's metadata.yaml / documentation.md in
# opentelemetry-collector-contrib and -collector, translated as above). A dashboard that uses a
# name outside these lists is querying something nothing emits.
COLLECTOR_METRICS = {
    # connectors
    "traces_span_metrics_calls_total",
    "traces_span_metrics_duration_seconds_bucket",
    "traces_service_graph_request_total",
    "traces_service_graph_request_failed_total",
    "traces_service_graph_request_server_seconds_bucket",
    "traces_service_graph_request_client_seconds_bucket",
    # postgresql receiver
    "postgresql_backends",
    "postgresql_commits_total",
    "postgresql_rollbacks_total",
    "postgresql_connection_max",
    "postgresql_database_locks",
    "postgresql_deadlocks_total",
    "postgresql_db_size_bytes",
    "postgresql_table_size_bytes",
    "postgresql_rows",
    "postgresql_operations_total",
    "postgresql_blks_hit_total",
    "postgresql_blks_read_total",
    "postgresql_tup_fetched_total",
    "postgresql_tup_inserted_total",
    "postgresql_tup_updated_total",
    "postgresql_sequential_scans_total",
    "postgresql_index_scans_total",
    # redis receiver
    "redis_commands_processed_total",
    "redis_cmd_calls_total",
    "redis_clients_connected",
    "redis_memory_used_bytes",
    "redis_memory_rss_bytes",
    "redis_memory_peak_bytes",
    "redis_keyspace_hits_total",
    "redis_keyspace_misses_total",
    "redis_db_keys",
    "redis_keys_expired_total",
    "redis_keys_evicted_total",
    "redis_net_input_bytes_total",
    "redis_net_output_bytes_total",
    # host_metrics receiver
    "system_cpu_time_seconds_total",
    "system_cpu_load_average_1m",
    "system_cpu_load_average_5m",
    "system_cpu_load_average_15m",
    "system_memory_usage_bytes",
    "system_disk_io_bytes_total",
    "system_disk_operations_total",
    "system_filesystem_usage_bytes",
    "system_network_io_bytes_total",
    "system_network_connections",
    "system_paging_usage_bytes",
    "system_paging_operations_total",
    "system_processes_count",
    "system_processes_created_total",
    # the collector's own telemetry (scraped)
    "otelcol_receiver_accepted_spans_total",
    "otelcol_receiver_accepted_metric_points_total",
    "otelcol_receiver_accepted_log_records_total",
    "otelcol_receiver_refused_spans_total",
    "otelcol_receiver_refused_metric_points_total",
    "otelcol_receiver_refused_log_records_total",
    "otelcol_exporter_sent_spans_total",
    "otelcol_exporter_sent_metric_points_total",
    "otelcol_exporter_sent_log_records_total",
    "otelcol_exporter_send_failed_spans_total",
    "otelcol_exporter_send_failed_metric_points_total",
    "otelcol_exporter_send_failed_log_records_total",
    "otelcol_exporter_queue_size",
    "otelcol_exporter_queue_capacity",
    "otelcol_processor_incoming_items_total",
    "otelcol_processor_outgoing_items_total",
    "otelcol_process_cpu_seconds_total",
    "otelcol_process_memory_rss_bytes",
    "otelcol_process_runtime_heap_alloc_bytes",
    "otelcol_process_uptime_seconds_total",
    # the gateways' tail_sampling processor and the agent's loadbalancing exporter
    "otelcol_processor_tail_sampling_count_traces_sampled_total",
    "otelcol_processor_tail_sampling_global_count_traces_sampled_total",
    "otelcol_processor_tail_sampling_sampling_traces_on_memory",
    "otelcol_processor_tail_sampling_sampling_trace_removal_age_seconds_bucket",
    "otelcol_loadbalancer_backend_outcome_total",
    "otelcol_loadbalancer_num_backends",
    # Prometheus itself
    "up",
}


def dashboards() -> dict[str, tuple[Path, dict[str, Any]]]:
    boards = {}
    for path in sorted(DASHBOARDS_DIR.glob("*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        boards[board["uid"]] = (path, board)
    return boards


@pytest.fixture(scope="module")
def datasources() -> dict[str, dict[str, Any]]:
    return {ds["uid"]: ds for ds in load_yaml(DATASOURCES_FILE)["datasources"]}


def test_datasources_have_the_fixed_uids(datasources: dict[str, dict[str, Any]]) -> None:
    assert set(datasources) == PROVISIONED_UIDS
    assert {uid: ds["type"] for uid, ds in datasources.items()} == {
        "prometheus": "prometheus",
        "tempo": "tempo",
        "loki": "loki",
    }
    services = load_yaml(COMPOSE_FILE)["services"]
    for ds in datasources.values():
        host = ds["url"].split("://", 1)[1].split(":", 1)[0]
        assert host in services, ds["url"]


def test_exemplars_of_both_label_names_open_traces(datasources: dict[str, dict[str, Any]]) -> None:
    destinations = datasources["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    assert {d["name"]: d["datasourceUid"] for d in destinations} == {"trace_id": "tempo", "traceID": "tempo"}


def test_tempo_links_to_logs_metrics_and_the_service_map(datasources: dict[str, dict[str, Any]]) -> None:
    tempo = datasources["tempo"]["jsonData"]
    assert tempo["tracesToLogsV2"]["datasourceUid"] == "loki"
    assert tempo["tracesToMetrics"]["datasourceUid"] == "prometheus"
    assert tempo["serviceMap"]["datasourceUid"] == "prometheus"
    assert tempo["nodeGraph"]["enabled"] is True
    # Grafana subtracts the start shift from the range start: it must be positive to widen it.
    assert not tempo["traceQuery"]["spanStartTimeShift"].startswith("-")
    # lokiSearch is no longer read by the Tempo data source (Grafana 12+): a dead key misleads.
    assert "lokiSearch" not in tempo
    # The trace-to-metrics queries are PromQL over app metrics; $__tags is filled in by Grafana.
    for query in tempo["tracesToMetrics"]["queries"]:
        assert "$$__tags" in query["query"]


def test_loki_log_lines_link_to_traces(datasources: dict[str, dict[str, Any]]) -> None:
    (field,) = datasources["loki"]["jsonData"]["derivedFields"]
    assert field["datasourceUid"] == "tempo"
    assert field["matcherType"] == "label"
    assert field["matcherRegex"] == "^trace_id$"
    assert field["url"] == "$${__value.raw}"


def test_the_required_dashboards_exist() -> None:
    assert set(dashboards()) >= REQUIRED_DASHBOARDS
    for uid, (path, _) in dashboards().items():
        assert path.stem == uid, f"{path.name}: name the file after the dashboard uid"


def _datasource_uids(node: Any) -> set[str]:
    """Every data source uid referenced anywhere in a dashboard."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                found.add(str(value.get("uid") if isinstance(value, dict) else value))
            else:
                found |= _datasource_uids(value)
    elif isinstance(node, list):
        for item in node:
            found |= _datasource_uids(item)
    return found


@pytest.mark.parametrize("uid", sorted(REQUIRED_DASHBOARDS))
def test_dashboards_use_only_provisioned_datasources(uid: str) -> None:
    _, board = dashboards()[uid]
    used = _datasource_uids(board)
    assert used, "no data source at all"
    assert used <= PROVISIONED_UIDS | BUILTIN_UIDS, sorted(used - PROVISIONED_UIDS - BUILTIN_UIDS)


@pytest.mark.parametrize("uid", sorted(REQUIRED_DASHBOARDS))
def test_every_panel_has_a_query(uid: str) -> None:
    _, board = dashboards()[uid]
    for panel in iter_panels(board["panels"]):
        if panel["type"] == "row":
            continue
        assert panel.get("targets"), f"{panel['title']}: no query"
        assert panel.get("datasource", {}).get("uid") in PROVISIONED_UIDS, panel["title"]


def test_panel_ids_are_unique() -> None:
    for uid, (_, board) in dashboards().items():
        panels = [p for p in iter_panels(board["panels"])]
        ids = [p["id"] for p in panels]
        assert len(ids) == len(set(ids)), uid


def test_app_dashboards_select_the_app_by_the_job_variable() -> None:
    for uid in ("api-red", "inventory"):
        _, board = dashboards()[uid]
        (variable,) = board["templating"]["list"]
        assert variable["name"] == "job"
        assert variable["current"]["value"] == "suppliers-api"
    for expression in dashboard_expressions():
        app_metrics = {m for m in expression.metrics if m.startswith(APP_METRIC_PREFIXES)}
        if app_metrics:
            assert 'job=~"$job"' in expression.expr, expression.location
            assert "service_name" not in expression.expr, expression.location


def test_latency_panels_show_exemplars() -> None:
    quantiles = [
        e
        for e in dashboard_expressions()
        if e.file.stem == "api-red" and "histogram_quantile" in e.expr and "by (le, http_route)" in e.expr
    ]
    assert len(quantiles) == 3  # p50, p95, p99 by route
    assert all(e.exemplar for e in quantiles)


def test_dashboards_query_only_metrics_that_exist() -> None:
    for expression in all_expressions():
        unknown = expression.base_metrics - APP_METRICS - COLLECTOR_METRICS
        assert not unknown, f"{expression.location}: {sorted(unknown)}"


def test_the_old_demo_panels_have_successors() -> None:
    """Post-transaction rate by status, latency, PostgreSQL commits/rollbacks, Redis commands, locks, CPU."""
    titles = {(e.file.stem, e.title) for e in dashboard_expressions()}
    metrics_by_board: dict[str, set[str]] = {}
    for e in dashboard_expressions():
        metrics_by_board.setdefault(e.file.stem, set()).update(e.metrics)
    assert ("inventory", "POST /transactions by status code") in titles
    assert {
        "postgresql_commits_total",
        "postgresql_rollbacks_total",
        "postgresql_database_locks",
    } <= metrics_by_board["postgresql"]
    assert "redis_commands_processed_total" in metrics_by_board["redis"]
    assert "system_cpu_time_seconds_total" in metrics_by_board["host"]
    assert "http_server_request_duration_seconds_bucket" in metrics_by_board["api-red"]


def test_dashboard_provider_reads_the_mounted_directory() -> None:
    (provider,) = load_yaml(DASHBOARD_PROVIDERS_FILE)["providers"]
    grafana = load_yaml(COMPOSE_FILE)["services"]["grafana"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in grafana["volumes"]
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
