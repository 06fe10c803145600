"""Real servers for the tests: PostgreSQL and Redis (embedded, or from TEST_* URLs) and the API under uvicorn."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

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
        log = self._log_path.open("ab")
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "suppliers.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
            ],
            env=self._env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the API exited at start:\n{self._log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/health/live", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"the API did not start:\n{self._log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def log(self) -> str:
        return self._log_path.read_text()
