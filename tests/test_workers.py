"""`suppliers serve` with several worker processes: every core, one resupply runner, one way to stop."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from suppliers.embedded.postgres import free_port
from tests.conftest import TEST_JWT_SECRET, login
from tests.otlp_receiver import OtlpReceiver, wait_for
from tests.servers import start_and_wait

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
    if process.poll() is None:
        process.kill()
        process.wait()


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


async def test_metrics_are_over_otlp_only_and_slash_metrics_says_so(
    served: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    _, base_url, _ = served
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        response = await http.get("/metrics")
        assert response.status_code == 404
        assert "2 worker processes" in response.json()["detail"]
        assert "SUPPLIERS_WORKERS=1" in response.json()["detail"]
        headers = await login(http, "i")
        answers = await asyncio.gather(*(http.get("/vendors?limit=1", headers=headers) for _ in range(40)))
        assert {r.status_code for r in answers} == {200}


def test_one_worker_of_all_runs_the_automatic_resupply(
    served: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    _, _, log_path = served
    time.sleep(2.5)  # a few intervals: a second leader, if there could be one, would have spoken
    assert log_path.read_text().count(LEADER_LINE) == 1, log_path.read_text()[-3000:]


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
