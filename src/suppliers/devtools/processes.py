"""Start a server, wait until it answers, stop it: the one way tests and benchmarks run programs."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path


class ServerDidNotStart(RuntimeError):
    """The program exited at start or never answered; the message names it and ends with its log."""


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
            raise ServerDidNotStart(f"{what} exited at start:\n{_tail(log_path)}")
        if answers(ready_url):
            return process
        time.sleep(0.1)
    process.kill()
    process.wait()
    raise ServerDidNotStart(f"{what} did not become ready within {timeout:.0f} s:\n{_tail(log_path)}")


def stop_process(process: subprocess.Popen[bytes], *, grace: float = 15.0) -> None:
    """SIGTERM, and SIGKILL if it has not exited within ``grace`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tail(log_path: Path) -> str:
    return log_path.read_text(errors="replace")[-3000:]
