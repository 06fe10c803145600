"""``GET /metrics`` when several worker processes serve: every worker's series, whichever is scraped.

Each worker keeps its own meter provider and Prometheus registry (the OpenTelemetry Prometheus
exporter has no multi-process mode), so a scrape that reached one worker would read its counts as
the service's. Here every worker also answers, on a Unix socket in a directory that its siblings
share (``SUPPLIERS_METRICS_DIR``, made by ``suppliers serve``), with its own exposition text. The
worker that takes the scrape reads its siblings' and its own, tells their series apart with
``service_instance_id`` (the worker's ``service.instance.id``, the label Prometheus gives the same
series received over OTLP) and answers with all of them. A worker that died leaves a socket
nobody answers: it is removed, and the others' series carry on; its replacement joins under its own id.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

INSTANCE_LABEL = "service_instance_id"
# A sibling busy for longer than this is left out of one scrape rather than holding it up.
SIBLING_TIMEOUT_SECONDS = 2.0
_SUFFIX = ".sock"

_log = logging.getLogger(__name__)


class _Answer(socketserver.BaseRequestHandler):
    server: _OwnMetrics

    def handle(self) -> None:
        self.request.sendall(generate_latest(self.server.registry))


class _OwnMetrics(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: Path, registry: CollectorRegistry) -> None:
        self.registry = registry
        super().__init__(str(path), _Answer)


class _Merged(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


class WorkerMetrics:
    """This worker's registry, offered to its siblings, and the scrape of all of them."""

    def __init__(self, registry: CollectorRegistry, directory: Path, instance_id: str) -> None:
        self.registry = registry
        self.directory = directory
        self.instance_id = instance_id
        self._path = directory / f"{instance_id}{_SUFFIX}"
        self._server: _OwnMetrics | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._server = _OwnMetrics(self._path, self.registry)
        threading.Thread(target=self._server.serve_forever, name="worker-metrics", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._path.unlink(missing_ok=True)

    def scrape(self) -> bytes:
        """Every live worker's metrics in one exposition, each series labelled with its worker."""
        # Its own series go through text too, as the siblings' do: families arrive under one naming
        # (counters without _total) and merge by name.
        texts = {self.instance_id: generate_latest(self.registry).decode()}
        for path in sorted(self.directory.glob(f"*{_SUFFIX}")):
            instance = path.name.removesuffix(_SUFFIX)
            if instance != self.instance_id and (text := _read(path)) is not None:
                texts[instance] = text
        merged = CollectorRegistry(auto_describe=False)
        merged.register(_Merged(merge(texts)))
        return generate_latest(merged)


def _read(path: Path) -> str | None:
    """A sibling's exposition; None if it is gone (its socket is then removed) or did not answer in time."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(SIBLING_TIMEOUT_SECONDS)
        try:
            client.connect(str(path))
            chunks = []
            while chunk := client.recv(1 << 16):
                chunks.append(chunk)
        except (ConnectionRefusedError, FileNotFoundError):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # a worker that died: nobody listens there any more
            return None
        except OSError as error:
            _log.warning("worker %s left out of this scrape: %s", path.stem, error)
            return None
    return b"".join(chunks).decode()


def merge(texts: dict[str, str]) -> list[Metric]:
    """One family per metric name, holding every worker's samples, each labelled with its worker.

    ``target_info`` names its worker already (service_instance_id is a resource attribute).
    """
    families: dict[str, Metric] = {}
    for instance, text in texts.items():
        for family in text_string_to_metric_families(text):
            merged = families.get(family.name)
            if merged is None:
                merged = families[family.name] = Metric(
                    family.name, family.documentation, family.type, family.unit
                )
            for sample in family.samples:
                labels = sample.labels
                if INSTANCE_LABEL not in labels:
                    labels = {**labels, INSTANCE_LABEL: instance}
                merged.samples.append(sample._replace(labels=labels))
    return list(families.values())
