"""Start a server, wait until it answers, stop it: the one way tests and benchmarks run programs."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self


class ServerDidNotStart(RuntimeError):
    """The program exited at start or never answered; the message names it and ends with its log."""

    def __init__(self, what: str, why: str, log_path: Path) -> None:
        tail = _tail(log_path)
        super().__init__(f"{what} {why}:\n{tail}")
        # One line for a console: the log's last line is usually the error, and the log itself
        # may live in a temporary directory that is gone by the time anyone reads the message.
        last = next((line for line in reversed(tail.splitlines()) if line.strip()), "its log is empty")
        self.summary = f"{what} {why}: {last.strip()} (log: {log_path})"


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own loopback URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_and_wait(
    command: Sequence[str],
    *,
    log_path: Path,
    ready_url: str,
    what: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> subprocess.Popen[bytes]:
    """Start a server with its output in ``log_path`` and wait until ``ready_url`` answers 200."""
    with log_path.open("ab") as log:
        # The command is the caller's own program (the API, a collector, nginx): never input.
        process = subprocess.Popen(  # noqa: S603
            list(command), env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerDidNotStart(what, "exited at start", log_path)
        if answers(ready_url):
            return process
        time.sleep(0.1)
    process.kill()
    process.wait()
    raise ServerDidNotStart(what, f"did not become ready within {timeout:.0f} s", log_path)


def stop_process(process: subprocess.Popen[bytes], *, grace: float = 15.0) -> None:
    """SIGTERM, and SIGKILL if it has not exited within ``grace`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class ServerProcess:
    """A program started and waited for, its output in ``log_path``; stopped with SIGTERM.

    A subclass says what to run (``command``), how it is configured (``environment``) and where it
    answers 200 once it serves (``ready_url``). It may be started again after a stop, on the same ports.
    """

    what = "a server"
    start_timeout = 30.0
    stop_grace = 15.0

    def __init__(self, *, log_path: Path) -> None:
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready_url(self) -> str:
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
            timeout=self.start_timeout,
        )
        return self

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process, grace=self.stop_grace)
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


def _tail(log_path: Path) -> str:
    return log_path.read_text(errors="replace")[-3000:]
