"""Prometheus: configuration, rule files and every dashboard expression, checked with promtool.

promtool comes from Debian's `prometheus` package (2.42 on bookworm; .ci/run installs it). It is
older than the v3.14.0 server the stack runs, which matters in one place: `promtool check config`
does not know the `otlp:` block (added in Prometheus 2.54), so that block -- and only that block --
is removed from a temporary copy before the check when promtool is older than 3.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .layout import PROMETHEUS_CONFIG, RULES_DIR, load_mapping, load_yaml
from .promql import dashboard_expressions, render, rule_expressions

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (apt-get install prometheus; .ci/run does)"
)
PROMTOOL_TESTS = Path(__file__).with_name("promtool")

# Keys of prometheus.yml that promtool < 3 rejects as unknown, with the version that added them.
NEWER_THAN_PROMTOOL_2 = {"otlp": "2.54"}


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], capture_output=True, text=True, timeout=120, check=False, cwd=cwd
    )


def promtool_major_version() -> int:
    output = promtool("--version").stdout + promtool("--version").stderr
    match = re.search(r"version (\d+)\.", output)
    assert match, output
    return int(match.group(1))


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


@needs_promtool
def test_promtool_check_rules() -> None:
    result = promtool("check", "rules", *map(str, sorted(RULES_DIR.glob("*.yml"))))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_check_config(config: dict[str, Any], tmp_path: Path) -> None:
    checked = dict(config)
    if promtool_major_version() < 3:
        for key in NEWER_THAN_PROMTOOL_2:
            checked.pop(key, None)
    # Point rule_files at the repository copy (the config names the in-container path).
    checked["rule_files"] = [str(RULES_DIR / "*.yml")]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(checked, sort_keys=False))
    result = promtool("check", "config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


@needs_promtool
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


@needs_promtool
def test_alert_rules_unit_tests() -> None:
    """The burn-rate and collector alerts fire on the data they are meant for, and only then."""
    result = promtool(
        "test", "rules", *sorted(p.name for p in PROMTOOL_TESTS.glob("*.test.yml")), cwd=PROMTOOL_TESTS
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
