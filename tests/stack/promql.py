"""Every PromQL expression of the stack, with where it comes from.

Sources: the Grafana dashboards (compose/grafana/dashboards/*.json, Prometheus targets only) and
the Prometheus rule files (compose/prometheus/rules/*.yml, recording and alerting rules).

Typical use, e.g. to run each expression against a real Prometheus::

    from tests.stack.promql import all_expressions, render
    for e in all_expressions():
        if e.source == "app":                           # needs only the app's own metrics
            query = render(e.expr, job="suppliers-api")
            ...                                          # GET /api/v1/query?query=...
            # on failure, report e.location (file + panel/rule title)

`source` tells what has to be running for an expression to return data:
  "app"        only metrics the API emits itself (http_server_*, suppliers_*, db_client_*, process_*,
               cpython_*): a Prometheus scraping the app's /metrics is enough.
  "collector"  also metrics only the OpenTelemetry Collector produces (span_metrics/service_graph
               connectors, postgresql/redis/host_metrics receivers, its own otelcol_*) or
               Prometheus' `up`: needs the compose stack.
Recorded series (names with a colon) are resolved through the rule that records them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from .layout import DASHBOARDS_DIR, RULES_DIR, load_yaml, relative

APP_METRIC_PREFIXES = ("http_server_", "suppliers_", "db_client_", "process_", "cpython_")

Kind = Literal["panel", "record", "alert"]


@dataclass(frozen=True)
class PromQLExpression:
    expr: str
    """As written, Grafana variables ($job, $__rate_interval, ...) included."""
    file: Path
    title: str
    """Panel title (dashboards) or the alert/record name (rules)."""
    kind: Kind
    group: str
    """Dashboard title, or rule group name."""
    ref_id: str | None = None
    legend: str | None = None
    exemplar: bool = False

    @property
    def location(self) -> str:
        where = f"{relative(self.file)}: {self.group} / {self.title}"
        return f"{where} [{self.ref_id}]" if self.ref_id else where

    @property
    def metrics(self) -> frozenset[str]:
        """Metric names the expression selects, as written (recorded series included)."""
        return metric_names(self.expr)

    @property
    def base_metrics(self) -> frozenset[str]:
        """Metric names after resolving recorded series to the metrics their rules read."""
        return resolve_recorded(self.metrics)

    @property
    def source(self) -> Literal["app", "collector"]:
        base = self.base_metrics
        if base and all(name.startswith(APP_METRIC_PREFIXES) for name in base):
            return "app"
        return "collector"


# ----------------------------------------------------------------------------- extraction


def dashboard_expressions(dashboards_dir: Path = DASHBOARDS_DIR) -> list[PromQLExpression]:
    found: list[PromQLExpression] = []
    for path in sorted(dashboards_dir.glob("*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        for panel in iter_panels(board.get("panels", [])):
            panel_ds = panel.get("datasource") or {}
            for target in panel.get("targets", []):
                datasource = target.get("datasource") or panel_ds
                if not _is_prometheus(datasource) or not target.get("expr", "").strip():
                    continue
                found.append(
                    PromQLExpression(
                        expr=target["expr"],
                        file=path,
                        title=panel.get("title", ""),
                        kind="panel",
                        group=board.get("title", path.stem),
                        ref_id=target.get("refId"),
                        legend=target.get("legendFormat"),
                        exemplar=bool(target.get("exemplar", False)),
                    )
                )
    return found


def rule_expressions(rules_dir: Path = RULES_DIR) -> list[PromQLExpression]:
    found: list[PromQLExpression] = []
    for path in sorted(rules_dir.glob("*.yml")):
        for group in (load_yaml(path) or {}).get("groups", []):
            for rule in group.get("rules", []):
                kind: Kind = "alert" if "alert" in rule else "record"
                found.append(
                    PromQLExpression(
                        expr=str(rule["expr"]).strip(),
                        file=path,
                        title=rule.get("alert") or rule.get("record"),
                        kind=kind,
                        group=group["name"],
                    )
                )
    return found


def all_expressions() -> list[PromQLExpression]:
    return dashboard_expressions() + rule_expressions()


def iter_panels(panels: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Every panel, including those nested in (collapsed) rows."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))


def _is_prometheus(datasource: Any) -> bool:
    if isinstance(datasource, Mapping):
        return datasource.get("type") == "prometheus" or datasource.get("uid") == "prometheus"
    return datasource in ("prometheus", "Prometheus")


# -------------------------------------------------------------------- Grafana variables


def render(
    expr: str,
    *,
    job: str = "suppliers-api",
    rate_interval: str = "1m",
    interval: str = "15s",
    range_: str = "5m",
    **variables: str,
) -> str:
    """Replace Grafana's variables with concrete values so Prometheus can run the expression.

    `$__rate_interval` defaults to 1m (4 x a 15 s scrape interval, as Grafana would compute).
    Raises ValueError if a variable is left that has no value.
    """
    values = {
        "__rate_interval": rate_interval,
        "__interval": interval,
        "__range": range_,
        "job": job,
        **variables,
    }
    # Longest names first so $__rate_interval is not read as $__rate + "_interval".
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace("${" + name + "}", values[name]).replace("$" + name, values[name])
    leftover = re.search(r"\$\{?[A-Za-z_]\w*", expr)
    if leftover:
        raise ValueError(f"no value for Grafana variable {leftover.group(0)!r} in: {expr}")
    return expr


# ------------------------------------------------------------------------- metric names

_AGGREGATIONS = {
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
}
_KEYWORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "inf",
    "nan",
    "start",
    "end",
}
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*")


def metric_names(expr: str) -> frozenset[str]:
    """Names of the metrics an expression selects (a lexical scan, enough for our rules and panels)."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range and subquery selectors
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENT.finditer(text):
        word = match.group(0)
        following = text[match.end() :].lstrip()
        if following.startswith("(") or word in _AGGREGATIONS or word in _KEYWORDS:
            continue  # a function call, an aggregation or a keyword
        names.add(word)
    return frozenset(names)


@cache
def _recording_rules() -> Mapping[str, str]:
    return {e.title: e.expr for e in rule_expressions() if e.kind == "record"}


def resolve_recorded(names: Iterable[str]) -> frozenset[str]:
    resolved: set[str] = set()
    pending = list(names)
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        recorded = _recording_rules().get(name)
        if recorded is None:
            resolved.add(name)
        else:
            pending.extend(metric_names(recorded))
    return frozenset(resolved)
