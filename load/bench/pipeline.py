"""`make bench-sampling`, part 2: faults of the telemetry pipeline, as the API's clients see them.

The API as deployed (`suppliers serve`, two workers, telemetry on with the SDK's own metrics) exports
to the agent, which routes to two gateways (collectors.py; backends discard). Paced clients withdraw
stock at a steady rate well under the API's capacity, so a latency change is the fault's, not a queue's.
Phases, in one invocation, each measured against the baseline before them:

* baseline;
* the agent killed, down 30 s, started again (same ports), then a recovery phase;
* a gateway slow: in its place (its address and port) a receiver that answers every export after
  3 s; then the gateway back;
* a gateway gone: killed, and dropped from DNS as Docker does for a stopped container; then back.

Per phase: requests and their statuses, p50 / p99 / max latency, the API's RSS (all workers), the
spans the SDK dropped or failed to export (otel_sdk_* from the API's /metrics), what the agent gave
up on (otelcol_exporter_send_failed_spans_total), refused, and what each gateway received.

    cd load && PYTHONPATH=. ../.venv/bin/python -m bench.pipeline
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from suppliers.devtools.collectors import Tier, metric_sum
from suppliers.devtools.withdrawals import transaction_body, withdrawal_target

from .collectors import SlowGateway, require_binary, start_tier
from .environment import (
    STOCK,
    ApiServer,
    prepare_small_data,
    report_dir,
    run_bench,
    start_servers,
    start_sink,
)
from .faults import percentile

CLIENTS = 8
PER_CLIENT_PER_SECOND = 8  # 64 withdrawals/s in all: a third of what this machine serves
PHASE_S = 30.0
RECOVERY_S = 20.0
SLOW_ANSWER_S = 3.0


@dataclass
class Load:
    """Every answer of the paced clients: (when it came, seconds it took, status)."""

    answers: list[tuple[float, float, int]] = field(default_factory=list)
    transport_errors: int = 0

    def between(self, start: float, end: float) -> list[tuple[float, float, int]]:
        return [a for a in self.answers if start <= a[0] < end]


@dataclass
class Phase:
    name: str
    requests: int
    statuses: dict[int, int]
    p50_ms: float
    p99_ms: float
    max_ms: float
    api_rss_mb: float
    sdk_dropped: float
    sdk_export_failed: float
    agent_send_failed: float
    agent_refused: float
    gateways_received: list[float]


async def paced_clients(api: ApiServer, database_url: str, load: Load, stop: asyncio.Event) -> None:
    product, vendor = await withdrawal_target(database_url, stock=STOCK)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
        token = (await http.post("/login/token", data={"username": "a", "password": "a"})).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}

        async def client() -> None:
            interval = 1 / PER_CLIENT_PER_SECOND
            next_at = time.monotonic()
            while not stop.is_set():
                body = transaction_body(product, vendor, transaction_id=uuid.uuid4())
                started = time.monotonic()
                try:
                    response = await http.post("/transactions", json=body, headers=headers)
                    load.answers.append((time.monotonic(), time.monotonic() - started, response.status_code))
                except httpx.TransportError:
                    load.transport_errors += 1
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))

        await asyncio.gather(*(client() for _ in range(CLIENTS)))


def sdk_counts(api: ApiServer) -> tuple[float, float]:
    """Spans the API's SDK dropped (queue full) and failed to export, from its /metrics."""
    text = httpx.get(f"{api.base_url}/metrics", timeout=10).text
    dropped = metric_sum(text, "otel_sdk_processor_span_processed_total", error_type="queue_full")
    failed = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        # The exporter writes every series with every label of the family: a success has error_type="".
        if line.startswith("otel_sdk_exporter_span_exported_total{")
        and "error_type=" in line
        and 'error_type=""' not in line
    )
    return dropped, failed


def since(before: float, after: float) -> float:
    """A counter's growth over a phase; a collector started again during it counts from zero."""
    if after != after:  # NaN: not running at the end
        return after
    return after - before if before == before and before <= after else after


def pipeline_counts(tier: Tier) -> tuple[float, float, list[float]]:
    try:
        agent = tier.agent.own_metrics()
    except OSError:  # down in this phase
        agent = ""
    received = []
    for gateway in tier.gateways.values():
        try:
            received.append(
                metric_sum(gateway.own_metrics(), "otelcol_receiver_accepted_spans_total", receiver="otlp")
            )
        except OSError:
            received.append(float("nan"))
    return (
        metric_sum(agent, "otelcol_exporter_send_failed_spans_total", exporter="loadbalancing"),
        metric_sum(agent, "otelcol_receiver_refused_spans_total"),
        received,
    )


async def run_phases(
    api: ApiServer, tier: Tier, database_url: str, tick: Callable[[str], None]
) -> list[Phase]:
    load, stop = Load(), asyncio.Event()
    clients = asyncio.create_task(paced_clients(api, database_url, load, stop))
    phases: list[Phase] = []
    # The agent's and the gateways' counters restart with them: deltas are taken within a phase.
    last_agent = (0.0, 0.0)

    async def phase(name: str, seconds: float, during: Callable[[], Awaitable[None]] | None = None) -> None:
        nonlocal last_agent
        started = time.monotonic()
        sdk_before = await asyncio.to_thread(sdk_counts, api)
        pipeline_before = await asyncio.to_thread(pipeline_counts, tier)
        if during is not None:
            await during()
        await asyncio.sleep(max(0.0, seconds - (time.monotonic() - started)))
        ended = time.monotonic()
        sdk_after = await asyncio.to_thread(sdk_counts, api)
        failed, refused, received = await asyncio.to_thread(pipeline_counts, tier)
        answers = load.between(started, ended)
        latencies = [took for _, took, _ in answers]
        phases.append(
            Phase(
                name=name,
                requests=len(answers),
                statuses=dict(Counter(status for _, _, status in answers)),
                p50_ms=round(1000 * percentile(latencies, 0.5), 1),
                p99_ms=round(1000 * percentile(latencies, 0.99), 1),
                max_ms=round(1000 * max(latencies, default=float("nan")), 1),
                api_rss_mb=round(api.rss_mb(), 1),
                sdk_dropped=sdk_after[0] - sdk_before[0],
                sdk_export_failed=sdk_after[1] - sdk_before[1],
                agent_send_failed=since(pipeline_before[0], failed),
                agent_refused=since(pipeline_before[1], refused),
                gateways_received=[
                    since(before, after) for before, after in zip(pipeline_before[2], received, strict=True)
                ],
            )
        )
        tick(name)

    async def agent_down() -> None:
        tier.agent.kill()
        await asyncio.sleep(PHASE_S)
        await asyncio.to_thread(tier.agent.start)

    slow: list[SlowGateway] = []
    name, victim = list(tier.gateways.items())[-1]

    async def gateway_slow() -> None:
        victim.stop()
        slow.append(await asyncio.to_thread(SlowGateway, victim.host, victim.otlp_grpc_port, SLOW_ANSWER_S))

    async def gateway_back() -> None:
        for receiver in slow:
            receiver.stop()
        slow.clear()
        await asyncio.to_thread(victim.start)
        tier.relist(name)

    async def gateway_gone() -> None:
        victim.kill()
        tier.unlist(name)

    await phase("baseline", PHASE_S)
    await phase("agent killed, down 30 s, started again", PHASE_S + 5, agent_down)
    await phase("after the agent's return", RECOVERY_S)
    await phase(f"a gateway slow (answers after {SLOW_ANSWER_S:.0f} s)", PHASE_S, gateway_slow)
    await phase("the gateway back", RECOVERY_S, gateway_back)
    await phase("a gateway gone (killed, out of DNS)", PHASE_S, gateway_gone)
    await phase("the gateway back", RECOVERY_S, gateway_back)
    stop.set()
    await clients
    return phases


def report(phases: list[Phase], dns: bool) -> str:
    base = phases[0]
    lines = [
        "# Faults of the telemetry pipeline (bench.pipeline)",
        "",
        f"API: `suppliers serve`, 2 workers, {CLIENTS} paced clients x {PER_CLIENT_PER_SECOND} withdrawals/s;"
        f" one agent, {'two gateways behind DNS' if dns else 'one gateway'}. p99 against the baseline's;"
        " SDK: spans dropped from the export queue / failed exports; agent: spans given up on, refused.",
        "",
        "| phase | requests | statuses | p50 ms | p99 ms (vs baseline) | max ms | API RSS MB | SDK dropped"
        " | SDK export failed | agent send failed | agent refused | spans received per gateway |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in phases:
        ratio = p.p99_ms / base.p99_ms if base.p99_ms else float("nan")
        lines.append(
            f"| {p.name} | {p.requests} | {p.statuses} | {p.p50_ms} | {p.p99_ms} ({ratio:.2f}x) | {p.max_ms}"
            f" | {p.api_rss_mb} | {p.sdk_dropped:.0f} | {p.sdk_export_failed:.0f} | {p.agent_send_failed:.0f}"
            f" | {p.agent_refused:.0f} | {' / '.join(f'{r:.0f}' for r in p.gateways_received)} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    require_binary("bench.pipeline")
    out = report_dir()
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="suppliers-pipeline-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        servers = start_servers(workdir, stack)
        prepare_small_data(servers.database_url)
        sink = start_sink(stack)
        tier = start_tier(stack, workdir, sink=sink)
        env = {
            "DATABASE_URL": servers.database_url,
            "REDIS_URL": servers.redis_url,
            "SUPPLIERS_WORKERS": "2",
            "OTEL_SDK_DISABLED": "false",
            "OTEL_EXPORTER_OTLP_ENDPOINT": tier.agent.otlp_http_endpoint,
            "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED": "true",
            "OTEL_METRIC_EXPORT_INTERVAL": "5000",
        }
        api = ApiServer("pipeline", env, workdir).start()
        stack.callback(api.stop)
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
        ) as bar:
            task = bar.add_task("pipeline: baseline", total=7)

            def tick(done: str) -> None:
                bar.update(task, description=f"pipeline: {done}")
                bar.advance(task)

            phases = asyncio.run(run_phases(api, tier, servers.database_url, tick))
        text = report(phases, tier.through_dns)
    (out / "pipeline-faults.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    run_bench(main)
