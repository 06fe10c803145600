"""Compare API configurations under the same POST /transactions load: what does each setting cost?

    cd load && PYTHONPATH=. ../.venv/bin/python -m bench.compare \\
        "off OTEL_SDK_DISABLED=true" "on" "no-span-export OTEL_TRACES_EXPORTER=none"

Each argument is a label and the environment of one API process (telemetry on, 100 % sampling, OTLP
to a discarding sink unless the variables say otherwise; `OTEL_EXPORTER_OTLP_ENDPOINT=collector` sends
it to the stack's real collector, built by `make tools`, whose own exporters go to the sink). All run
side by side on the same data and
are measured in turn, interleaved, BENCH_RUNS times (default 2) at 32 connections.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from suppliers.devtools import usage

from .__main__ import wrk_env
from .collectors import require_binary, start_agent
from .environment import ApiServer, fixture_for, prepare_data, run_bench, start_servers, start_sink
from .loadgen import wrk


def main(arguments: list[str]) -> int:
    if not arguments:
        print(__doc__)
        return 2
    seconds = int(os.environ.get("BENCH_SECONDS", "8"))
    runs = int(os.environ.get("BENCH_RUNS", "2"))
    configs = [(spec.split()[0], dict(pair.split("=", 1) for pair in spec.split()[1:])) for spec in arguments]
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="suppliers-compare-")))
        started = start_servers(workdir, stack)
        database_url, redis_url = started.database_url, started.redis_url
        prepare_data(database_url)
        sinks = start_sink(stack)
        sink = sinks.http
        collector = None
        if any(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") == "collector" for _, env in configs):
            require_binary("bench.compare")
            agent = start_agent(stack, workdir, sink=sinks, database_url=database_url, redis_url=redis_url)
            collector = agent.otlp_http_endpoint
        apis: dict[str, ApiServer] = {}
        for label, env in configs:
            base = {
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "OTEL_EXPORTER_OTLP_ENDPOINT": sink,
                "OTEL_TRACES_SAMPLER": "always_on",
            }
            if env.get("OTEL_EXPORTER_OTLP_ENDPOINT") == "collector" and collector is not None:
                env = {**env, "OTEL_EXPORTER_OTLP_ENDPOINT": collector}
            apis[label] = ApiServer(label, {**base, **env}, workdir).start()
            stack.callback(apis[label].stop)
        env = wrk_env(fixture_for(next(iter(apis.values())), workdir))
        script = "post_transaction.lua"
        for api in apis.values():
            wrk(api.base_url, script, connections=32, seconds=3, env=env, workdir=workdir)
        rps: dict[str, list[float]] = {label: [] for label in apis}
        cpu_ms: dict[str, list[float]] = {label: [] for label in apis}
        for _ in range(runs):
            for label, api in apis.items():
                before = usage.cpu_seconds(api.pid)
                measured = wrk(
                    api.base_url, script, connections=32, seconds=seconds, env=env, workdir=workdir
                )
                used = usage.cpu_seconds(api.pid) - before
                rps[label].append(measured.rps)
                cpu_ms[label].append(used / (measured.rps * seconds) * 1000)
    baseline = statistics.median(next(iter(rps.values())))
    for label, values in rps.items():
        median = statistics.median(values)
        runs_text = ", ".join(f"{v:.0f}" for v in values)
        cpu = statistics.median(cpu_ms[label])
        print(
            f"{label:24s} {median:7.0f} req/s  ({median / baseline:5.2f}x the first)  "
            f"{cpu:5.2f} ms CPU/req  runs: {runs_text}"
        )
    return 0


if __name__ == "__main__":
    run_bench(lambda: main(sys.argv[1:]))
