"""The binaries `make tools` builds (.tools/bin): the collector, Prometheus and promtool.

A test that needs one and does not find it skips with the command that builds it, except under
CI (CI=true), where .ci/run has run `make tools` and a missing binary is a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS_BIN = REPO_ROOT / ".tools" / "bin"


def require_tool(name: str) -> Path:
    path = TOOLS_BIN / name
    if not path.exists():
        why = f"{name} is not built: run `make tools` (needs Go)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return path


def require_program(name: str, *, install: str) -> Path:
    """A program from the system's packages; ``install`` is the command that provides it."""
    found = shutil.which(name)
    if found is None:
        why = f"{name} is not installed: {install} (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return Path(found)
