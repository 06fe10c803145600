"""Where the CPU of a request goes: py-spy samples the API under wrk load, stacks grouped by part.

    cd load && PYTHONPATH=. ../.venv/bin/python -m bench.profile [on|off] [post|list|one] [seconds]

Prints CPU per request (from /proc, every API process summed) and its split over the parts of a
request: HTTP server, OpenTelemetry middleware, span creation, span export (protobuf encoding),
metric recording, log records, JWT, the Redis session lookup, SQLAlchemy, asyncpg, msgspec, ...
Each sample is charged to the innermost frame that belongs to a part, so "SQLAlchemy" is time in
SQLAlchemy's own code, not in the driver it calls.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from suppliers.devtools.usage import cpu_seconds

from .environment import ApiServer, fixture_for, prepare_data, run_bench, start_servers, start_sink
from .loadgen import require, wrk

# Every worker, 200 samples a second, without pausing the processes; full paths to tell packages apart.
SAMPLING = ["--format", "raw", "--rate", "200", "--subprocesses", "--nonblocking", "--full-filenames"]
SCRIPTS = {"post": "post_transaction.lua", "list": "get_products.lua", "one": "get_product.lua"}

# (part, pattern on "function (file:line)" frames), innermost match wins; order breaks ties.
PARTS: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(pattern))
    for name, pattern in [
        (
            "span export (BatchSpanProcessor, OTLP/protobuf)",
            r"opentelemetry/(exporter/otlp|sdk/trace/export)|google/protobuf|suppliers/telemetry/otlp_spans",
        ),
        (
            "log records (logging, OTLP logs)",
            r"opentelemetry/(sdk/_logs|instrumentation/logging)|/logging/__init__",
        ),
        ("metric recording (incl. exemplars)", r"opentelemetry/sdk/metrics|suppliers/telemetry/tallies"),
        (
            "span creation and attributes",
            r"opentelemetry/(sdk/trace/__init__|trace/|context/|util/|attributes/)",
        ),
        (
            "server-span middleware and instrumentations",
            r"opentelemetry/instrumentation/(asgi|asyncpg|redis)|litestar/(contrib|plugins)/opentelemetry"
            r"|suppliers/telemetry/(http|query_summary)",
        ),
        ("JWT decode and verify", r"/jwt/|litestar/security/jwt|cryptography/"),
        ("Redis client (session lookup)", r"/redis/"),
        ("SQLAlchemy", r"/sqlalchemy/"),
        ("asyncpg", r"/asyncpg/"),
        ("msgspec (decode/encode)", r"msgspec"),
        ("suppliers (our code)", r"/suppliers/"),
        ("Litestar (routing, DI, handlers)", r"/litestar/"),
        ("HTTP server (uvicorn, httptools)", r"/uvicorn/|httptools"),
        ("event loop (asyncio, uvloop)", r"asyncio/|uvloop"),
    ]
]


def part_of(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for name, pattern in PARTS:
            if pattern.search(frame):
                return name
    return "other"


def main(argv: list[str]) -> int:
    telemetry = argv[0] if argv else "on"
    route = argv[1] if len(argv) > 1 else "post"
    seconds = int(argv[2]) if len(argv) > 2 else 20
    require("wrk", "apt-get install wrk")
    py_spy = Path(sys.executable).with_name("py-spy")
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="suppliers-profile-")))
        started = start_servers(workdir, stack)
        database_url, redis_url = started.database_url, started.redis_url
        prepare_data(database_url)
        # One worker unless told otherwise: the split of one request does not depend on how many.
        env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SUPPLIERS_WORKERS": "1"}
        env |= {k: v for k, v in os.environ.items() if k == "SUPPLIERS_WORKERS"}
        if telemetry == "on":
            env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": start_sink(stack).http, "OTEL_TRACES_SAMPLER": "always_on"}
        else:
            env |= {"OTEL_SDK_DISABLED": "true"}
        api = ApiServer(f"profile-{telemetry}", env, workdir).start()
        stack.callback(api.stop)
        fixture = fixture_for(api, workdir)
        wrk_env = {
            "BENCH_TOKEN": fixture.token,
            "BENCH_VENDOR": fixture.vendor_id,
            "BENCH_PRODUCTS": str(fixture.products_file),
        }
        wrk(api.base_url, SCRIPTS[route], connections=32, seconds=5, env=wrk_env, workdir=workdir)
        raw = workdir / "stacks.txt"
        recording = ["--duration", str(seconds), "--output", str(raw), "--pid", str(api.pid)]
        recorder = subprocess.Popen(
            [str(py_spy), "record", *SAMPLING, *recording],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        before = cpu_seconds(api.pid)
        measured = wrk(
            api.base_url, SCRIPTS[route], connections=32, seconds=seconds, env=wrk_env, workdir=workdir
        )
        used = cpu_seconds(api.pid) - before
        recorder.wait(timeout=120)
        if keep := os.environ.get("BENCH_PROFILE_STACKS"):
            shutil.copy(raw, keep)  # the raw stacks, for a closer look at one part
        requests = measured.rps * seconds
        samples: collections.Counter[str] = collections.Counter()
        for line in raw.read_text().splitlines():
            stack_text, _, count = line.rpartition(" ")
            if count.isdigit():
                samples[part_of(stack_text)] += int(count)
    total = sum(samples.values()) or 1
    per_request_ms = used / requests * 1000
    print(f"{route} @ 32, telemetry {telemetry}: {measured.rps:.0f} req/s, p99 {measured.p99_ms:.0f} ms, ")
    print(f"API CPU {per_request_ms:.2f} ms per request ({used:.1f} CPU-s over {requests:.0f} requests)")
    for name, hits in samples.most_common():
        share = hits / total
        print(f"  {share:6.1%}  {share * per_request_ms * 1000:7.0f} µs  {name}")
    return 0


if __name__ == "__main__":
    run_bench(lambda: main(sys.argv[1:]))
