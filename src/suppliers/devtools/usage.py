"""CPU and memory of a process as the kernel counts them: the process and everything below it
(uvicorn's workers), read from /proc."""

from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after it.
    return text[text.rindex(")") + 2 :].split()


def family(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process family so far."""
    total = 0
    for member in family(pid):
        if (fields := _stat(member)) is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS


def rss_mb(pid: int) -> float:
    """Resident memory of the process family now, in MiB."""
    return sum(_status_kib(member, "VmRSS:") for member in family(pid)) / 1024


def peak_rss_mb(pid: int) -> float:
    """The highest resident memory of this one process so far (VmHWM), in MiB."""
    return _status_kib(pid, "VmHWM:") / 1024


def _status_kib(pid: int, field: str) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0
