"""The benchmark's outputs: a Markdown table, a PNG chart, the raw figures, and one summary line."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from .loadgen import Measurement

Results = dict[str, dict[int, Measurement]]
"""Series name (e.g. "POST /transactions, telemetry on") → connections → median measurement."""


def markdown(results: Results, memory: dict[str, float], settings: dict[str, object]) -> str:
    lines = [
        "# suppliers benchmark",
        "",
        f"Medians of {settings['runs']} runs of {settings['seconds']} s each; wrk (2 threads) against one",
        "uvicorn process; pgbench (2 jobs, prepared statements) against the same PostgreSQL, same machine.",
        "",
        "| Series | Connections | Requests/s | p50 ms | p90 ms | p99 ms | Non-2xx | Socket errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for series, by_connections in results.items():
        for connections, m in sorted(by_connections.items()):
            latency = f"{m.p50_ms:.1f} | {m.p90_ms:.1f} | {m.p99_ms:.1f}"
            lines.append(
                f"| {series} | {connections} | {m.rps:,.0f} | {latency} | {m.non_2xx} | {m.errors} |"
            )
    if memory:
        lines += [
            "",
            f"API RSS under {settings['rss_seconds']} s of steady POST load (telemetry on, 32 connections): "
            f"start {memory['start_mb']:.0f} MB (after warm-up), peak {memory['peak_mb']:.0f} MB, "
            f"end {memory['end_mb']:.0f} MB, growth {memory['growth']:+.1%}.",
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


def summary_line(results: Results, memory: dict[str, float], *, on: str, off: str, ceiling: str) -> str:
    at = 32 if 32 in results[on] else max(results[on])
    post, bare, pg = results[on][at], results[off][at], results[ceiling][at]
    ratio = post.rps / pg.rps if pg.rps else 0.0
    cost = 1 - post.rps / bare.rps if bare.rps else 0.0
    return (
        f"bench: post_rps={post.rps:.0f} pgbench_tps={pg.rps:.0f} ratio={ratio:.2f} "
        f"telemetry_cost={cost:.3f} p99_ms={post.p99_ms:.1f} rss_mb={memory.get('peak_mb', 0):.0f}"
    )
