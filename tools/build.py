"""`make tools`: the OpenTelemetry Collector, Prometheus, promtool, Helm and kubecheck, from Go modules.

The test suite runs the very collector and Prometheus releases that compose/compose.yaml pins, and
checks the Helm chart with Helm 4 and kubecheck (tools/kubecheck: a strict decoder over k8s.io/api).
None ships on PyPI or in Debian at those versions, so they are built here, from the module proxy,
at the versions named in tools/otelcol/manifest.yaml and the go.mod beside each tool.

Each build lands in a cache outside the clone (~/.cache/suppliers/tools, or
$SUPPLIERS_TOOLS_CACHE), keyed by the version and a hash of every input; .tools/bin/ links to it.
A second run, or a fresh clone on the same machine, finds the cache and builds nothing.

Only the standard library is used: this runs before the project's virtualenv exists.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"
BIN = ROOT / ".tools" / "bin"
# Bumped when this script changes how it builds, so old cache entries are not reused.
RECIPE = "1"
# The module proxy serves these modules but not their checksum-database entries; the go.sum files
# committed beside each manifest pin their hashes instead.
NO_SUMDB = "github.com/open-telemetry/opentelemetry-collector-contrib,go.opentelemetry.io/collector"


class ToolError(RuntimeError):
    """A build step failed; the message says which one in a line."""


@dataclass(frozen=True)
class Tool:
    name: str
    version: str
    inputs: tuple[Path, ...]
    executables: tuple[str, ...]
    build: Callable[[Path, Path], None]  # (go binary, output directory)

    @property
    def key(self) -> str:
        digest = hashlib.sha256(f"{RECIPE}\n{self.version}\n{go_version()}\n".encode())
        for path in self.inputs:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()[:16]


def cache_root() -> Path:
    configured = os.environ.get("SUPPLIERS_TOOLS_CACHE")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "suppliers" / "tools"


def find_go() -> Path:
    for candidate in (shutil.which("go"), "/usr/local/go/bin/go"):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    raise ToolError(
        "Go is not installed (https://go.dev/dl, 1.25 or newer): without it the tests that run the "
        "collector and Prometheus skip"
    )


_GO_VERSION: list[str] = []


def go_version() -> str:
    if not _GO_VERSION:
        done = subprocess.run(
            [str(find_go()), "env", "GOVERSION"], capture_output=True, text=True, check=True
        )
        _GO_VERSION.append(done.stdout.strip())
    return _GO_VERSION[0]


def go_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false", "GOTOOLCHAIN": "local"}, **extra)
    return env


def run(command: list[str], *, cwd: Path, env: dict[str, str], what: str) -> None:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
        raise ToolError(f"{what} failed (exit {done.returncode}):\n" + "\n".join(tail))


# ----------------------------------------------------------------------------- the collector

COLLECTOR_DIR = TOOLS / "otelcol"
COLLECTOR_MANIFEST = COLLECTOR_DIR / "manifest.yaml"
COLLECTOR_SUMS = COLLECTOR_DIR / "go.sum"


def collector_version() -> str:
    match = re.search(
        r"^dist:\n(?:[ \t]+.*\n)*?[ \t]+version:[ \t]*(\S+)", COLLECTOR_MANIFEST.read_text(), re.M
    )
    if not match:
        raise ToolError(f"{COLLECTOR_MANIFEST.relative_to(ROOT)}: no dist.version")
    return match.group(1)


def build_collector(go: Path, out: Path) -> None:
    version = collector_version()
    builder = ensure_builder(go, version)
    with tempfile.TemporaryDirectory(prefix="otelcol-") as scratch:
        source = Path(scratch) / "src"
        manifest = Path(scratch) / "manifest.yaml"
        # The builder takes its output folder from the manifest only.
        text = COLLECTOR_MANIFEST.read_text().replace("dist:\n", f"dist:\n  output_path: {source}\n", 1)
        manifest.write_text(text)
        # Generate main.go, components.go and go.mod; resolve and compile ourselves, with the
        # committed go.sum, so nothing but the modules the binary links is fetched (the builder's
        # `go mod tidy` would also fetch the test dependencies of every module).
        run(
            [str(builder), "--config", str(manifest), "--skip-get-modules", "--skip-compilation"],
            cwd=Path(scratch),
            env=go_env(),
            what="generating the collector's sources",
        )
        shutil.copyfile(COLLECTOR_SUMS, source / "go.sum")
        run(
            [str(go), "build", "-trimpath", "-ldflags=-s -w", "-o", str(out / "otelcol"), "."],
            cwd=source,
            env=go_env(GOFLAGS="-buildvcs=false -mod=mod", GONOSUMDB=NO_SUMDB),
            what="compiling the collector",
        )
        if (source / "go.sum").read_bytes() != COLLECTOR_SUMS.read_bytes():
            # A manifest change pulled in new modules: keep their hashes with the manifest.
            shutil.copyfile(source / "go.sum", COLLECTOR_SUMS)
            say(f"  updated {COLLECTOR_SUMS.relative_to(ROOT)} with the hashes of new modules: commit it")


def ensure_builder(go: Path, version: str) -> Path:
    home = cache_root() / f"ocb-{version}"
    builder = home / "builder"
    if not builder.exists():
        say(f"  installing the collector builder (ocb) {version}")
        run(
            [str(go), "install", f"go.opentelemetry.io/collector/cmd/builder@v{version}"],
            cwd=TOOLS,
            env=go_env(GOBIN=str(home)),
            what=f"go install of the collector builder v{version}",
        )
    return builder


# -------------------------------------------------------------------------------- Prometheus

PROMETHEUS_DIR = TOOLS / "prometheus"


def prometheus_version() -> str:
    """v0.314.0 in go.mod is release 3.14.0."""
    match = re.search(
        r"github\.com/prometheus/prometheus v0\.(\d+)(\d\d)\.(\d+)\b", (PROMETHEUS_DIR / "go.mod").read_text()
    )
    if not match:
        raise ToolError("tools/prometheus/go.mod does not require github.com/prometheus/prometheus")
    major, minor, patch = match.groups()
    return f"{major}.{int(minor)}.{patch}"


def build_prometheus(go: Path, out: Path) -> None:
    version = prometheus_version()
    stamp = " ".join(
        f"-X github.com/prometheus/common/version.{name}={value}"
        for name, value in (("Version", version), ("Branch", "HEAD"), ("BuildUser", "suppliers-make-tools"))
    )
    with tempfile.TemporaryDirectory(prefix="prometheus-") as scratch:
        # Built from a copy, so go.mod and go.sum in the repository are only ever read.
        for name in ("go.mod", "go.sum"):
            shutil.copyfile(PROMETHEUS_DIR / name, Path(scratch) / name)
        run(
            [
                str(go),
                "build",
                "-mod=readonly",
                "-trimpath",
                # No service discovery but file, HTTP and DNS (compose finds every gateway replica
                # by its service name): the cloud SDKs would double the build time.
                "-tags=remove_all_sd,enable_dns_sd",
                f"-ldflags=-s -w {stamp}",
                "-o",
                f"{out}{os.sep}",
                "github.com/prometheus/prometheus/cmd/prometheus",
                "github.com/prometheus/prometheus/cmd/promtool",
            ],
            cwd=Path(scratch),
            env=go_env(),
            what="compiling prometheus and promtool",
        )


# ------------------------------------------------------------- Helm and the manifest checker

HELM_DIR = TOOLS / "helm"
KUBECHECK_DIR = TOOLS / "kubecheck"


def required_version(go_mod: Path, module: str) -> str:
    match = re.search(rf"^\s*{re.escape(module)} (v\S+)", go_mod.read_text(), re.M)
    if not match:
        raise ToolError(f"{go_mod.relative_to(ROOT)} does not require {module}")
    return match.group(1)


def build_from_module(source: Path, package: str, out: Path, *, ldflags: str = "", what: str) -> None:
    """``go build`` of ``package`` inside a copy of ``source`` (its go.mod, go.sum and any .go files):
    the module's pinned requirements and hashes only, nothing resolved anew."""
    with tempfile.TemporaryDirectory(prefix=f"{source.name}-") as scratch:
        for path in source.iterdir():
            if path.name in ("go.mod", "go.sum") or path.suffix == ".go":
                shutil.copyfile(path, Path(scratch) / path.name)
        run(
            [
                str(find_go()),
                "build",
                "-mod=readonly",
                "-trimpath",
                f"-ldflags=-s -w {ldflags}",
                "-o",
                f"{out}{os.sep}",
                package,
            ],
            cwd=Path(scratch),
            env=go_env(),
            what=what,
        )


def build_helm(go: Path, out: Path) -> None:
    version = required_version(HELM_DIR / "go.mod", "helm.sh/helm/v4")
    # Without the stamp `helm version` says v4.3 (what `go install` builds, DESIGN.md).
    stamp = f"-X helm.sh/helm/v4/internal/version.version={version}"
    build_from_module(HELM_DIR, "helm.sh/helm/v4/cmd/helm", out, ldflags=stamp, what="compiling helm")


def build_kubecheck(go: Path, out: Path) -> None:
    build_from_module(KUBECHECK_DIR, ".", out, what="compiling kubecheck (k8s.io/api strict decoder)")


# -------------------------------------------------------------------------------- the driver

TOOLSET = (
    Tool(
        name="otelcol",
        version=collector_version(),
        inputs=(COLLECTOR_MANIFEST, COLLECTOR_SUMS, Path(__file__)),
        executables=("otelcol",),
        build=build_collector,
    ),
    Tool(
        name="prometheus",
        version=prometheus_version(),
        inputs=(PROMETHEUS_DIR / "go.mod", PROMETHEUS_DIR / "go.sum", Path(__file__)),
        executables=("prometheus", "promtool"),
        build=build_prometheus,
    ),
    Tool(
        name="helm",
        version=required_version(HELM_DIR / "go.mod", "helm.sh/helm/v4"),
        inputs=(HELM_DIR / "go.mod", HELM_DIR / "go.sum", Path(__file__)),
        executables=("helm",),
        build=build_helm,
    ),
    Tool(
        name="kubecheck",
        version=required_version(KUBECHECK_DIR / "go.mod", "k8s.io/api"),
        inputs=(
            KUBECHECK_DIR / "go.mod",
            KUBECHECK_DIR / "go.sum",
            KUBECHECK_DIR / "main.go",
            Path(__file__),
        ),
        executables=("kubecheck",),
        build=build_kubecheck,
    ),
)


def say(message: str) -> None:
    print(message, flush=True)


def ensure(tool: Tool, go: Path) -> None:
    home = cache_root() / f"{tool.name}-{tool.version}-{tool.key}"
    if all((home / exe).exists() for exe in tool.executables):
        state = "cached"
    else:
        say(f"tools: building {tool.name} {tool.version} (first time on this machine: a few minutes)")
        started = time.monotonic()
        staging = Path(tempfile.mkdtemp(prefix=f".{tool.name}-", dir=cache_root()))
        try:
            tool.build(go, staging)
            shutil.rmtree(home, ignore_errors=True)
            staging.rename(home)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        minutes, seconds = divmod(int(time.monotonic() - started), 60)
        state = f"built in {minutes}m{seconds:02d}s"
    BIN.mkdir(parents=True, exist_ok=True)
    sizes = []
    for exe in tool.executables:
        link = BIN / exe
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(home / exe)
        sizes.append(f"{exe} {(home / exe).stat().st_size / 1e6:.0f} MB")
    say(f"tools: {tool.name} {tool.version} {state} ({', '.join(sizes)}) -> .tools/bin/")


def main(arguments: list[str]) -> int:
    # --if-go (make test): build what the stack tests run when Go is here; without Go, say so and
    # let those tests skip, each naming why.
    optional = "--if-go" in arguments
    names = [name for name in arguments if name != "--if-go"]
    wanted = [t for t in TOOLSET if not names or t.name in names]
    unknown = set(names) - {t.name for t in TOOLSET}
    try:
        if unknown:
            raise ToolError(
                f"unknown tool {sorted(unknown)[0]!r} (known: {', '.join(t.name for t in TOOLSET)})"
            )
        try:
            go = find_go()
        except ToolError as error:
            if not optional:
                raise
            print(f"suppliers: {error}", file=sys.stderr)
            return 0
        cache_root().mkdir(parents=True, exist_ok=True)
        for tool in wanted:
            ensure(tool, go)
    except ToolError as error:
        print(f"suppliers: make tools: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
