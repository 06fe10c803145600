"""The benchmark's outputs: a Markdown table, a PNG chart, the raw figures, and one summary line."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .loadgen import Measurement

Results = dict[str, dict[int, Measurement]]
"""Series name (e.g. "POST /transactions, telemetry on") → connections → median measurement."""

AT = 32  # the connections every target is read at


@dataclass(frozen=True)
class Targets:
    """Which series the targets of issue 11 compare."""

    post_on: str
    post_off: str
    ceiling: str
    listing: str


@dataclass(frozen=True)
class Verdict:
    name: str
    value: float
    goal: str
    met: bool


def verdicts(
    results: Results, names: Targets, memory: dict[str, float], spans_vs_floor: float | None = None
) -> list[Verdict]:
    at = AT if AT in results[names.post_on] else max(results[names.post_on])
    post, bare = results[names.post_on][at], results[names.post_off][at]
    pg, listing = results[names.ceiling][at], results[names.listing][at]
    ratio = post.rps / pg.rps if pg.rps else 0.0
    cost = 1 - post.rps / bare.rps if bare.rps else 0.0
    tail = post.p99_ms / pg.p99_ms if pg.p99_ms else 0.0
    found = [
        Verdict("POST with telemetry ÷ pgbench", ratio, "≥ 0.30", ratio >= 0.30),
        Verdict(
            "API CPU per POST, telemetry on (ms)", post.cpu_ms or 0.0, "≤ 2.0", (post.cpu_ms or 9) <= 2.0
        ),
        Verdict(
            "API CPU per POST, telemetry off (ms)", bare.cpu_ms or 0.0, "≤ 1.3", (bare.cpu_ms or 9) <= 1.3
        ),
        Verdict("telemetry cost (1 - on ÷ off)", cost, "≤ 0.25", cost <= 0.25),
        Verdict(
            "telemetry CPU per POST (on - off, ms)",
            telemetry_ms(post, bare),
            "≤ 0.5",
            telemetry_ms(post, bare) <= 0.5,
        ),
        Verdict("p99 of POST ÷ pgbench p99", tail, "≤ 5", tail <= 5),
        Verdict(
            "GET /products?limit=100 ÷ POST",
            listing.rps / post.rps if post.rps else 0.0,
            "≥ 1",
            listing.rps >= post.rps,
        ),
    ]
    if spans_vs_floor is not None:
        found.append(
            Verdict(
                "costliest of our span kinds ÷ the SDK's floor",
                spans_vs_floor,
                "≤ 1.5",
                spans_vs_floor <= 1.5,
            )
        )
    if memory:
        found.append(
            Verdict("RSS growth over the soak", memory["growth"], "flat (≤ +5 %)", memory["growth"] <= 0.05)
        )
    return found


def telemetry_ms(on: Measurement, off: Measurement) -> float:
    """What telemetry adds to one request's API CPU."""
    return (on.cpu_ms or 0.0) - (off.cpu_ms or 0.0)


def markdown(
    results: Results,
    memory: dict[str, float],
    settings: dict[str, object],
    names: Targets,
    telemetry: str = "",
    spans_vs_floor: float | None = None,
) -> str:
    lines = [
        "# suppliers benchmark",
        "",
        f"Medians of {settings['runs']} runs of {settings['seconds']} s each. wrk (2 threads) against",
        f"`suppliers serve` ({settings['workers']} workers), telemetry exporting to "
        f"{settings['exporting_to']};",
        "pgbench (2 jobs, prepared statements) against the same PostgreSQL, same machine. CPU is the API's",
        "(every worker, user + system, from /proc) per request.",
        "",
        "| Series | Connections | Requests/s | p50 ms | p90 ms | p99 ms | API CPU ms/req | Non-2xx "
        "| Socket errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for series, by_connections in results.items():
        for connections, m in sorted(by_connections.items()):
            latency = f"{m.p50_ms:.1f} | {m.p90_ms:.1f} | {m.p99_ms:.1f}"
            cpu = "" if m.cpu_ms is None else f"{m.cpu_ms:.2f}"
            lines.append(
                f"| {series} | {connections} | {m.rps:,.0f} | {latency} | {cpu} | {m.non_2xx} | {m.errors} |"
            )
    if memory:
        lines += [
            "",
            f"API RSS (every worker) under {settings['rss_seconds']} s of steady POST load (telemetry on, "
            f"{AT} connections): start {memory['start_mb']:.0f} MB (after warm-up), "
            f"peak {memory['peak_mb']:.0f} MB, "
            f"end {memory['end_mb']:.0f} MB, growth {memory['growth']:+.1%}.",
        ]
    lines += [
        "",
        f"Targets, at {AT} connections:",
        "",
        "| Figure | Value | Target | Met |",
        "|---|---:|---|---|",
    ]
    for verdict in verdicts(results, names, memory, spans_vs_floor):
        lines.append(
            f"| {verdict.name} | {verdict.value:.2f} | {verdict.goal} | {'yes' if verdict.met else 'no'} |"
        )
    if telemetry:
        lines += [
            "",
            "What each piece of telemetry costs beside the SDK's floor (`python -m bench.telemetry`, "
            "µs of process CPU, the export thread's included):",
            "",
            telemetry,
        ]
    return "\n".join(lines) + "\n"


def chart(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (throughput, tail) = plt.subplots(1, 2, figsize=(12, 4.5))
    for series, by_connections in results.items():
        if not series.startswith(("POST", "pgbench")):
            continue
        connections = sorted(by_connections)
        throughput.plot(connections, [by_connections[c].rps for c in connections], marker="o", label=series)
        tail.plot(connections, [by_connections[c].p99_ms for c in connections], marker="o", label=series)
    throughput.set(title="Throughput", xlabel="connections / clients", ylabel="requests (transactions) / s")
    tail.set(title="p99 latency", xlabel="connections / clients", ylabel="ms")
    ticks = sorted({c for by in results.values() for c in by})
    for axis in (throughput, tail):
        axis.set_xscale("log", base=2)
        axis.set_xticks(ticks, labels=[str(c) for c in ticks])
        axis.minorticks_off()
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle("POST /transactions vs pgbench on the same SQL")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def raw(results: Results, memory: dict[str, float], path: Path) -> None:
    payload = {
        "results": {s: {str(c): asdict(m) for c, m in by.items()} for s, by in results.items()},
        "memory": memory,
    }
    path.write_text(json.dumps(payload, indent=2))


def summary_line(
    results: Results,
    memory: dict[str, float],
    names: Targets,
    *,
    workers: int,
    collector: bool,
    spans_vs_floor: float | None = None,
) -> str:
    at = AT if AT in results[names.post_on] else max(results[names.post_on])
    post, bare = results[names.post_on][at], results[names.post_off][at]
    pg, listing = results[names.ceiling][at], results[names.listing][at]
    ratio = post.rps / pg.rps if pg.rps else 0.0
    cost = 1 - post.rps / bare.rps if bare.rps else 0.0
    judged = verdicts(results, names, memory, spans_vs_floor)
    met = sum(v.met for v in judged)
    return (
        f"bench: workers={workers} collector={'real' if collector else 'sink'} post_rps={post.rps:.0f} "
        f"pgbench_tps={pg.rps:.0f} ratio={ratio:.2f} telemetry_cost={cost:.3f} "
        f"cpu_ms_on={post.cpu_ms or 0:.2f} cpu_ms_off={bare.cpu_ms or 0:.2f} "
        f"telemetry_ms={telemetry_ms(post, bare):.2f} spans_vs_floor={spans_vs_floor or 0:.2f} "
        f"p99_ms={post.p99_ms:.1f} "
        f"p99_vs_pgbench={post.p99_ms / pg.p99_ms if pg.p99_ms else 0:.1f} "
        f"list_vs_post={listing.rps / post.rps if post.rps else 0:.2f} "
        f"rss_growth={memory.get('growth', 0):+.3f} targets_met={met}/{len(judged)}"
    )
