"""Real servers for the tests: PostgreSQL and Redis (embedded, or from TEST_* URLs) and the API under uvicorn."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from suppliers.cli import KEEP_ALIVE_SECONDS
from suppliers.embedded.postgres import free_port


class ApiProcess:
    """The API as users run it: uvicorn in its own process, configured by environment variables."""

    def __init__(self, env: Mapping[str, str], *, log_path: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._env = {
            **os.environ,
            "SUPPLIERS_AUTO_RESUPPLY": "false",
            "OTEL_SDK_DISABLED": "true",
            "SUPPLIERS_LOG_LEVEL": "WARNING",
            **env,
        }
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> ApiProcess:
        command = [sys.executable, "-m", "uvicorn", "suppliers.app:create_app", "--factory"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--no-access-log"]
        command += ["--timeout-keep-alive", str(KEEP_ALIVE_SECONDS)]  # as `suppliers serve` runs it
        self._process = start_and_wait(
            command,
            env=self._env,
            log_path=self._log_path,
            ready_url=f"{self.base_url}/health/live",
            what="the API",
        )
        return self

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process)
            self._process = None

    def kill(self) -> None:
        """SIGKILL: a replica that dies without a chance to finish anything."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def log(self) -> str:
        return self._log_path.read_text()


def start_and_wait(
    command: list[str],
    *,
    log_path: Path,
    ready_url: str,
    what: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> subprocess.Popen[bytes]:
    """Start a server with its output in ``log_path`` and wait until ``ready_url`` answers 200."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited at start:\n{log_path.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(ready_url, timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{what} did not become ready:\n{log_path.read_text(errors='replace')[-3000:]}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if it has not exited within 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
