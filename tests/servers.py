"""Real servers for the tests: PostgreSQL and Redis (embedded, or from TEST_* URLs) and the API under uvicorn."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from suppliers.cli import KEEP_ALIVE_SECONDS
from suppliers.devtools.processes import ServerProcess
from suppliers.embedded.postgres import free_port


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
