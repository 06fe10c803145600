"""/metrics across workers, piece by piece: each worker answers on its socket, the scraped one merges."""

from __future__ import annotations

import socket
from pathlib import Path

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from suppliers.telemetry.worker_metrics import WorkerMetrics


def worker(directory: Path, instance: str, requests: int) -> tuple[WorkerMetrics, MeterProvider]:
    registry = CollectorRegistry(auto_describe=True)
    resource = Resource.create({"service.name": "suppliers-api", "service.instance.id": instance})
    meters = MeterProvider(resource=resource, metric_readers=[PrometheusMetricReader(registry=registry)])
    counter = meters.get_meter("suppliers").create_counter("suppliers.inventory.transactions")
    counter.add(requests, {"suppliers.inventory.outcome": "success"})
    metrics = WorkerMetrics(registry, directory, instance)
    metrics.start()
    return metrics, meters


def samples(text: bytes, name: str) -> dict[str, float]:
    return {
        sample.labels["service_instance_id"]: sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
        if sample.name == name
    }


def test_each_worker_answers_with_everyones_series_once(tmp_path: Path) -> None:
    one, first = worker(tmp_path, "one", 3)
    two, second = worker(tmp_path, "two", 4)
    try:
        for scraped in (one, two):
            text = scraped.scrape()
            assert samples(text, "suppliers_inventory_transactions_total") == {"one": 3.0, "two": 4.0}
            # target_info names its worker already: one per worker, not relabelled.
            assert samples(text, "target_info") == {"one": 1.0, "two": 1.0}
            assert text.decode().count("# TYPE suppliers_inventory_transactions_total counter") == 1
    finally:
        one.stop()
        two.stop()
        first.shutdown()
        second.shutdown()


def test_a_dead_workers_socket_is_removed_and_the_others_carry_on(tmp_path: Path) -> None:
    alive, meters = worker(tmp_path, "alive", 5)
    # What a killed worker leaves: a socket file nobody listens on.
    dead = tmp_path / "dead.sock"
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(dead))
    leftover.close()
    try:
        text = alive.scrape()
        assert samples(text, "suppliers_inventory_transactions_total") == {"alive": 5.0}
        assert not dead.exists()
    finally:
        alive.stop()
        meters.shutdown()
    assert not (tmp_path / "alive.sock").exists()  # a worker that stops takes its socket with it
