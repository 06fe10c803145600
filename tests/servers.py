"""Real servers for the tests: PostgreSQL and Redis (embedded, or from TEST_* URLs) and the API under uvicorn."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from suppliers.cli import KEEP_ALIVE_SECONDS
from suppliers.devtools.processes import start_and_wait, stop_process
from suppliers.embedded.postgres import free_port


class ServerProcess:
    """A program the tests start and wait for, its output in ``log_path``; stopped with SIGTERM."""

    what = "a server"

    def __init__(self, *, log_path: Path) -> None:
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready_url(self) -> str:
        """Answers 200 once the program serves."""
        raise NotImplementedError

    def environment(self) -> Mapping[str, str] | None:
        return None  # this process's own

    def start(self) -> Self:
        self._process = start_and_wait(
            self.command(),
            env=self.environment(),
            log_path=self.log_path,
            ready_url=self.ready_url(),
            what=self.what,
        )
        return self

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process)
            self._process = None

    def kill(self) -> None:
        """SIGKILL: a process that dies without a chance to finish anything."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        assert self._process is not None, f"{self.what} is not running"
        return self._process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class ApiProcess(ServerProcess):
    """The API as users run it: uvicorn in its own process, configured by environment variables."""

    what = "the API"

    def __init__(self, env: Mapping[str, str], *, log_path: Path) -> None:
        super().__init__(log_path=log_path)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._env = {
            **os.environ,
            "SUPPLIERS_AUTO_RESUPPLY": "false",
            "OTEL_SDK_DISABLED": "true",
            "SUPPLIERS_LOG_LEVEL": "WARNING",
            **env,
        }

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "uvicorn", "suppliers.app:create_app", "--factory"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--no-access-log"]
        command += ["--timeout-keep-alive", str(KEEP_ALIVE_SECONDS)]  # as `suppliers serve` runs it
        return command

    def ready_url(self) -> str:
        return f"{self.base_url}/health/live"

    def environment(self) -> Mapping[str, str]:
        return self._env
