"""Prometheus: configuration, rule files and every dashboard expression, checked by promtool.

promtool and prometheus are the release compose runs (prom/prometheus:v3.14.0), built by
`make tools`; the live run of this configuration is tests/stack/test_stack_live.py.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.toolchain import require_tool

from .layout import PROMETHEUS_CONFIG, RULES_DIR, compose_services, load_mapping, load_yaml
from .promql import dashboard_expressions, render, rule_expressions

PROMTOOL_TESTS = Path(__file__).with_name("promtool")


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(require_tool("promtool")), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return load_mapping(PROMETHEUS_CONFIG)


def test_rule_files_parse_and_every_rule_is_complete() -> None:
    files = sorted(RULES_DIR.glob("*.yml"))
    assert files
    for path in files:
        groups = load_yaml(path)["groups"]
        names = [g["name"] for g in groups]
        assert len(names) == len(set(names)), path.name
        for group in groups:
            for rule in group["rules"]:
                assert ("alert" in rule) != ("record" in rule), rule
                assert rule["expr"].strip()
                if "alert" in rule:
                    assert rule["labels"]["severity"] in ("page", "ticket"), rule["alert"]
                    assert rule["annotations"]["summary"], rule["alert"]


def test_required_alerts_exist() -> None:
    alerts = {e.title: e.expr for e in rule_expressions() if e.kind == "alert"}
    # Availability SLO: multiwindow, multi-burn-rate (a long and a short window in each alert).
    fast = alerts["SuppliersApiErrorBudgetBurnFast"]
    assert "ratio_rate1h" in fast
    assert "ratio_rate5m" in fast
    assert "14.4" in fast
    medium = alerts["SuppliersApiErrorBudgetBurnMedium"]
    assert "ratio_rate6h" in medium
    assert "ratio_rate30m" in medium
    # Latency SLO: fraction of requests above the threshold, and a p99 guard.
    assert "slower_than_500ms" in alerts["SuppliersApiLatencyBudgetBurnFast"]
    assert "histogram_quantile(0.99" in alerts["SuppliersApiHighP99Latency"]
    # The pipeline: exporter send failures for every signal.
    for signal in ("spans", "metric_points", "log_records"):
        assert any(f"otelcol_exporter_send_failed_{signal}_total" in expr for expr in alerts.values()), signal


def test_config_loads_the_rule_files_mounted_by_compose(config: dict[str, Any]) -> None:
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]


def test_otlp_settings(config: dict[str, Any]) -> None:
    promoted = set(config["otlp"]["promote_resource_attributes"])
    assert {"service.name", "service.instance.id", "deployment.environment.name"} <= promoted
    assert config["otlp"]["translation_strategy"] == "UnderscoreEscapingWithSuffixes"
    assert config["storage"]["tsdb"]["out_of_order_time_window"]


def test_the_app_is_not_scraped_twice(config: dict[str, Any]) -> None:
    """Its metrics arrive over OTLP with job=suppliers-api; scraping /metrics too would double them."""
    targets = [
        t for job in config["scrape_configs"] for sc in job.get("static_configs", []) for t in sc["targets"]
    ]
    assert not any(t.startswith("api:") for t in targets)


def test_the_built_prometheus_is_the_compose_release() -> None:
    image = compose_services()["prometheus"]["image"]
    tag = image.rpartition(":")[2].lstrip("v")
    for tool in ("prometheus", "promtool"):
        done = subprocess.run(
            [str(require_tool(tool)), "--version"], capture_output=True, text=True, check=True
        )
        assert re.search(rf"version {re.escape(tag)} ", done.stdout + done.stderr), done.stdout


def test_promtool_check_rules() -> None:
    result = promtool("check", "rules", *map(str, sorted(RULES_DIR.glob("*.yml"))))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_config_on_the_shipped_file() -> None:
    result = promtool("check", "config", "--lint=all", str(PROMETHEUS_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_no_deprecated_flag(config: dict[str, Any]) -> None:
    """3.14 deprecates the --storage.tsdb.retention.* flags for the config file's storage block."""
    command = compose_services()["prometheus"]["command"]
    assert not [flag for flag in command if flag.startswith("--storage.tsdb.retention")]
    assert config["storage"]["tsdb"]["retention"]["time"]


def test_every_dashboard_expression_is_valid_promql(tmp_path: Path) -> None:
    """Grafana variables filled in, each panel query becomes a recording rule that promtool parses."""
    expressions = dashboard_expressions()
    rules = [{"record": f"dashboard:check_{i}", "expr": render(e.expr)} for i, e in enumerate(expressions)]
    path = tmp_path / "dashboards.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = promtool("check", "rules", str(path))
    if result.returncode != 0:
        bad = re.findall(r"dashboard:check_(\d+)", result.stdout + result.stderr)
        located = [expressions[int(i)].location for i in bad]
        pytest.fail(f"{result.stdout}{result.stderr}\n{located}")
    assert f"SUCCESS: {len(expressions)} rules found" in result.stdout


def test_alert_rules_unit_tests() -> None:
    """The burn-rate and collector alerts fire on the data they are meant for, and only then."""
    result = promtool(
        "test", "rules", *sorted(p.name for p in PROMTOOL_TESTS.glob("*.test.yml")), cwd=PROMTOOL_TESTS
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
