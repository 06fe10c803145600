"""`suppliers serve` with several worker processes: every core, one /metrics, one resupply runner, one way to stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from suppliers.devtools.processes import start_and_wait
from suppliers.embedded.postgres import free_port
from tests.conftest import TEST_JWT_SECRET, login
from tests.otlp_receiver import OtlpReceiver, wait_for

LEADER_LINE = "this process now runs the automatic resupply"


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def served(
    database_url: str, redis_url: str, receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    workdir = tmp_path_factory.mktemp("workers")
    port = free_port()
    log_path = workdir / "serve.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SUPPLIERS_JWT_SECRET": TEST_JWT_SECRET,
        "SUPPLIERS_WORKERS": "2",
        "SUPPLIERS_PORT": str(port),
        "SUPPLIERS_DATA_DIR": str(workdir),
        "SUPPLIERS_AUTO_RESUPPLY": "true",
        "SUPPLIERS_AUTO_RESUPPLY_INTERVAL_SECONDS": "1",
        "OTEL_SDK_DISABLED": "false",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_METRIC_EXPORT_INTERVAL": "500",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    process = start_and_wait(
        [sys.executable, "-m", "suppliers", "serve", "--no-seed"],
        env=env,
        log_path=log_path,
        ready_url=f"http://127.0.0.1:{port}/health/ready",
        what="suppliers serve",
        timeout=60,
    )
    yield process, f"http://127.0.0.1:{port}", log_path
    if process.poll() is None:  # a test failed before the SIGTERM test: leave no worker behind
        workers = _children(process.pid)
        process.kill()
        process.wait()
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)


def test_each_worker_has_its_own_telemetry_identity(
    served: tuple[subprocess.Popen[bytes], str, Path], receiver: OtlpReceiver
) -> None:
    def instances() -> set[str]:
        found = {
            instance
            for resource, _ in receiver.metrics()
            if isinstance(instance := resource.get("service.instance.id"), str)
        }
        return found if len(found) >= 2 else set()

    ids = wait_for(instances, what="metrics from two worker processes")
    assert len(ids) == 2


def _vendor_requests_by_worker(base_url: str) -> dict[str, float]:
    """Scraped /metrics: requests to /vendors counted so far, by the worker that served them."""
    counted: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(f"{base_url}/metrics").text):
        for sample in family.samples:
            if (
                sample.name == "http_server_request_duration_seconds_count"
                and sample.labels["http_route"] == "/vendors"
            ):
                worker = sample.labels["service_instance_id"]
                counted[worker] = counted.get(worker, 0) + sample.value
    return counted


async def test_slash_metrics_answers_with_every_workers_series(
    served: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    _, base_url, _ = served
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        headers = await login(http, "i")
    before = sum(_vendor_requests_by_worker(base_url).values())

    async def one_request() -> int:
        # A connection of its own each: the kernel hands new connections to either worker.
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            return (await http.get("/vendors?limit=1", headers=headers)).status_code

    # Rounds of new connections until both workers have served some (the kernel decides who accepts).
    sent = 0
    for _ in range(10):
        answers = await asyncio.gather(*(one_request() for _ in range(30)))
        assert set(answers) == {200}
        sent += len(answers)
        if len(_vendor_requests_by_worker(base_url)) == 2:
            break

    # Whichever worker takes each scrape, the counts are the service's: every request once.
    for _ in range(4):
        by_worker = _vendor_requests_by_worker(base_url)
        assert sum(by_worker.values()) - before == sent, by_worker
    assert len(by_worker) == 2, by_worker  # both workers served, each series told apart


def test_one_worker_of_all_runs_the_automatic_resupply(
    served: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    _, _, log_path = served
    time.sleep(2.5)  # a few intervals: a second leader, if there could be one, would have spoken
    assert log_path.read_text().count(LEADER_LINE) == 1, log_path.read_text()[-3000:]


def test_a_worker_that_restarts_loses_nobody_elses_series(
    served: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    process, base_url, _ = served
    by_worker = _vendor_requests_by_worker(base_url)
    victim = _workers(process.pid)[0]
    os.kill(victim, signal.SIGKILL)

    # uvicorn's supervisor starts a new worker in its place.
    def replaced() -> bool:
        alive = _workers(process.pid)
        return victim not in alive and len(alive) == 2

    wait_for(replaced, what="a new worker")
    wait_for(lambda: httpx.get(f"{base_url}/health/ready").status_code == 200, what="the API ready again")

    after = _vendor_requests_by_worker(base_url)
    survivors = {worker: count for worker, count in by_worker.items() if worker in after}
    # The killed worker's series went with it; the survivor's are whole, whichever worker was scraped.
    assert len(survivors) == 1, (by_worker, after)
    assert survivors.items() <= after.items()


def test_sigterm_stops_every_worker(served: tuple[subprocess.Popen[bytes], str, Path]) -> None:
    process, _, log_path = served
    workers = _children(process.pid)
    assert len(workers) >= 2
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=20)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.1)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()], log_path.read_text()[-2000:]


def _children(pid: int) -> list[int]:
    done = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(child) for child in done.stdout.split()]


def _workers(pid: int) -> list[int]:
    """The serving processes among the children (multiprocessing also starts a resource tracker)."""
    workers = []
    for child in _children(pid):
        with contextlib.suppress(FileNotFoundError):  # one that is gone by now is no worker
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                workers.append(child)
    return workers
