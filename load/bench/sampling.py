"""`make bench-sampling`, part 1: what the two collector tiers cost, and what tail sampling keeps.

The shipped otel-collector.yaml (agent) and otel-gateway.yaml (two gateways behind DNS, see
collectors.py) get OTLP/HTTP span batches at a fixed rate, made like the API's: traces of three
spans (the request, its Redis GET, its SQL statement) in the mixed load's proportions -- 5 % failing
(500, status ERROR), 2 % slow (600 ms), 3 % playground, 20 % synthetic load, the rest fast. Each
rate runs for a warm-up and a measured window; CPU (utime + stime from /proc) and RSS of every
collector are read around the window. Reported:

* CPU of the agent and of each gateway per 1,000 spans/s, at two rates;
* the gateways' memory under three decision waits: the shipped one (10 s, decided 1 s after the
  root span arrives), the same without the early decision, and 30 s without it;
* the share of traces and spans the gateways keep under this mix (spans: what left for Tempo in the
  window over what arrived, so the batch in flight lowers it a little) (expected about 17 %: 5 + 2 + 3 %
  always, 10 % of the 70 % fast ones, 1 % of the 20 % synthetic).

    cd load && PYTHONPATH=. ../.venv/bin/python -m bench.sampling
"""

from __future__ import annotations

import json
import random
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status
from rich.console import Console
from rich.progress import Progress

from suppliers.devtools import usage
from suppliers.devtools.collectors import Tier, metric_sum, private_hosts_work

from .collectors import require_binary, start_tier
from .environment import report_dir, run_bench, start_sink

SPANS_PER_TRACE = 3
RATES = (1_000, 3_000)  # spans per second
WARM_UP_S, WINDOW_S = 5.0, 20.0
BATCHES_PER_SECOND = 10  # like an SDK exporting every 100-200 ms from a few processes
WAITS = {
    "10 s, decided 1 s after the root (shipped)": {"SAMPLING_DECISION_WAIT": "10s"},
    "10 s, no early decision": {"SAMPLING_DECISION_WAIT": "10s", "SAMPLING_DECISION_WAIT_AFTER_ROOT": "0s"},
    "30 s, no early decision": {"SAMPLING_DECISION_WAIT": "30s", "SAMPLING_DECISION_WAIT_AFTER_ROOT": "0s"},
}
# (kind, share of traces, route, status code, duration ms, synthetic)
MIX = (
    ("error", 0.05, "/playground/error", 500, 5, False),
    ("slow", 0.02, "/hello", 200, 600, False),
    ("playground", 0.03, "/playground/slow", 200, 300, False),
    ("synthetic", 0.20, "/transactions", 201, 8, True),
    ("fast", 0.70, "/transactions", 201, 8, False),
)
RESOURCE = Resource(
    attributes=[
        KeyValue(key="service.name", value=AnyValue(string_value="suppliers-api")),
        KeyValue(key="service.instance.id", value=AnyValue(string_value="bench-sampling")),
    ]
)


def _attr(key: str, value: str | int | bool) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def make_trace(rng: random.Random, now: int) -> list[Span]:
    kind, _, route, status, duration_ms, synthetic = rng.choices(MIX, weights=[m[1] for m in MIX])[0]
    trace_id, root_id = rng.randbytes(16), rng.randbytes(8)
    start, end = now - duration_ms * 1_000_000, now
    attributes = [
        _attr("http.request.method", "POST" if route == "/transactions" else "GET"),
        _attr("http.route", route),
        _attr("url.path", route),
        _attr("http.response.status_code", status),
    ]
    if synthetic:
        attributes.append(_attr("suppliers.synthetic_request", True))
    error = Status(code=Status.STATUS_CODE_ERROR) if kind == "error" else Status()
    root = Span(
        trace_id=trace_id,
        span_id=root_id,
        name=f"{'POST' if route == '/transactions' else 'GET'} {route}",
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        attributes=attributes,
        status=error,
    )

    def client(name: str, begins: int, ends: int, system: str, operation: KeyValue) -> Span:
        return Span(
            trace_id=trace_id,
            span_id=rng.randbytes(8),
            parent_span_id=root_id,
            name=name,
            kind=Span.SPAN_KIND_CLIENT,
            start_time_unix_nano=begins,
            end_time_unix_nano=ends,
            attributes=[_attr("db.system.name", system), operation],
        )

    redis = client("GET", start + 100_000, start + 600_000, "redis", _attr("db.operation.name", "GET"))
    summary = "movement transactions"
    sql = client(summary, start + 700_000, end - 100_000, "postgresql", _attr("db.query.summary", summary))
    return [redis, sql, root]  # children end first: the request span is exported last, as in the API


class Generator(threading.Thread):
    """Posts span batches to the agent at ``rate`` spans/s until stopped; counts what it sent."""

    def __init__(self, endpoint: str, rate: int) -> None:
        super().__init__(daemon=True)
        self.url = f"{endpoint}/v1/traces"
        self.traces_per_batch = max(1, rate // SPANS_PER_TRACE // BATCHES_PER_SECOND)
        self.spans_sent = 0
        self.failed = 0
        self._halt = threading.Event()
        self._rng = random.Random(7)

    def run(self) -> None:
        interval = 1 / BATCHES_PER_SECOND
        next_at = time.monotonic()
        with httpx.Client(timeout=10) as client:
            while not self._halt.is_set():
                now = time.time_ns()
                spans = [s for _ in range(self.traces_per_batch) for s in make_trace(self._rng, now)]
                body = ExportTraceServiceRequest(
                    resource_spans=[ResourceSpans(resource=RESOURCE, scope_spans=[ScopeSpans(spans=spans)])]
                ).SerializeToString()
                response = client.post(
                    self.url, content=body, headers={"Content-Type": "application/x-protobuf"}
                )
                if response.status_code == 200:
                    self.spans_sent += len(spans)
                else:
                    self.failed += len(spans)
                next_at += interval
                self._halt.wait(max(0.0, next_at - time.monotonic()))

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=15)


@dataclass
class Row:
    setting: str
    rate: int  # spans/s asked for
    achieved: float  # spans/s the agent accepted
    cpu_ms_per_1000: dict[str, float]  # CPU ms per second, per 1,000 spans/s through that collector
    rss_mb: dict[str, float]
    peak_rss_mb: dict[str, float]
    traces_waiting: float  # the gateways' traces in memory at the end of the window
    traces_kept: float  # share of traces the gateways kept
    spans_kept: float


def measure(workdir: Path, setting: str, rate: int, gateway_env: dict[str, str]) -> Row:
    with ExitStack() as stack:
        sink = start_sink(stack)
        tier = start_tier(stack, workdir, sink=sink, gateway_env=gateway_env)
        generator = Generator(tier.agent.otlp_http_endpoint, rate)
        generator.start()
        # Past the first decisions: a trace waits at most the decision wait.
        wait = float(gateway_env.get("SAMPLING_DECISION_WAIT", "10s").rstrip("s"))
        time.sleep(WARM_UP_S + (wait if gateway_env.get("SAMPLING_DECISION_WAIT_AFTER_ROOT") == "0s" else 0))
        collectors = tier.collectors()
        cpu_before = {c.what: usage.cpu_seconds(c.pid) for c in collectors}
        accepted_before = metric_sum(
            tier.agent.own_metrics(), "otelcol_receiver_accepted_spans_total", receiver="otlp"
        )
        started = time.monotonic()
        time.sleep(WINDOW_S)
        elapsed = time.monotonic() - started
        cpu = {c.what: usage.cpu_seconds(c.pid) - cpu_before[c.what] for c in collectors}
        scraped = {c.what: c.own_metrics() for c in collectors}
        accepted = (
            metric_sum(scraped[tier.agent.what], "otelcol_receiver_accepted_spans_total", receiver="otlp")
            - accepted_before
        )
        achieved = accepted / elapsed
        through = {c.what: achieved if c is tier.agent else achieved / len(tier.gateways) for c in collectors}
        row = Row(
            setting=setting,
            rate=rate,
            achieved=round(achieved),
            cpu_ms_per_1000={
                name: round(1000 * seconds / elapsed / (through[name] / 1000), 1)
                for name, seconds in cpu.items()
            },
            rss_mb={c.what: round(usage.rss_mb(c.pid), 1) for c in collectors},
            peak_rss_mb={c.what: round(usage.peak_rss_mb(c.pid), 1) for c in collectors},
            traces_waiting=sum(
                metric_sum(scraped[g.what], "otelcol_processor_tail_sampling_sampling_traces_on_memory")
                for g in tier.gateways.values()
            ),
            traces_kept=_share(
                scraped, tier, "otelcol_processor_tail_sampling_global_count_traces_sampled_total"
            ),
            spans_kept=_spans_kept(scraped, tier),
        )
        generator.stop()
        return row


def _share(scraped: dict[str, str], tier: Tier, name: str) -> float:
    kept = sum(metric_sum(scraped[g.what], name, decision="sampled") for g in tier.gateways.values())
    total = sum(metric_sum(scraped[g.what], name) for g in tier.gateways.values())
    return round(kept / total, 3) if total else float("nan")


def _spans_kept(scraped: dict[str, str], tier: Tier) -> float:
    sent = sum(
        metric_sum(scraped[g.what], "otelcol_exporter_sent_spans_total", exporter="otlp_grpc/tempo")
        for g in tier.gateways.values()
    )
    received = sum(
        metric_sum(scraped[g.what], "otelcol_receiver_accepted_spans_total", receiver="otlp")
        for g in tier.gateways.values()
    )
    return round(sent / received, 3) if received else float("nan")


def _percent(share: float) -> str:
    return "—" if share != share else f"{share:.1%}"  # NaN: nothing decided in the window


AGENT = "agent"  # the tier's name for it
GATEWAYS_DNS = "two gateways found through DNS"
GATEWAY_ALONE = "one gateway (no private /etc/hosts here)"


def report(rows: list[Row], dns: bool) -> str:
    lines = [
        "# Tail sampling: what the collector tiers cost (bench.sampling)",
        "",
        f"One agent, {GATEWAYS_DNS if dns else GATEWAY_ALONE};"
        f" synthetic API-shaped traces of {SPANS_PER_TRACE} spans; {WINDOW_S:.0f} s windows after"
        f" {WARM_UP_S:.0f} s of warm-up. CPU in ms per second for each 1,000 spans/s passing through"
        " that collector (a gateway gets its share of the traces).",
        "",
        "| decision wait | spans/s asked | accepted | CPU agent | CPU per gateway | RSS agent MB"
        " | RSS gateways MB (peak) | traces waiting | traces kept | spans kept |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        gateways = [name for name in row.cpu_ms_per_1000 if name != AGENT]
        lines.append(
            f"| {row.setting} | {row.rate:,} | {row.achieved:,.0f} | {row.cpu_ms_per_1000[AGENT]} |"
            f" {' / '.join(str(row.cpu_ms_per_1000[g]) for g in gateways)} | {row.rss_mb[AGENT]} |"
            f" {' / '.join(f'{row.rss_mb[g]} ({row.peak_rss_mb[g]})' for g in gateways)} |"
            f" {row.traces_waiting:,.0f} | {_percent(row.traces_kept)} | {_percent(row.spans_kept)} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    console = Console(stderr=True)
    require_binary("bench.sampling")
    out = report_dir()
    plan = [("10 s, decided 1 s after the root (shipped)", rate, WAITS[next(iter(WAITS))]) for rate in RATES]
    plan += [(setting, RATES[-1], env) for setting, env in list(WAITS.items())[1:]]
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-sampling-") as scratch,
        Progress(console=console) as progress,
    ):
        task = progress.add_task("bench.sampling", total=len(plan))
        for index, (setting, rate, env) in enumerate(plan):
            progress.update(task, description=f"{setting}, {rate:,} spans/s")
            workdir = Path(scratch) / str(index)
            workdir.mkdir()
            rows.append(measure(workdir, setting, rate, env))
            progress.advance(task)
    text = report(rows, private_hosts_work())
    (out / "sampling.md").write_text(text)
    (out / "sampling.json").write_text(json.dumps([asdict(row) for row in rows], indent=1))
    print(text)


if __name__ == "__main__":
    run_bench(main)
