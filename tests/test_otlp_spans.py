"""The span encoder writes what the SDK's protobuf encoder writes: parsed, the two requests are equal."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import AttributeValue

from suppliers.telemetry.otlp_spans import encode_spans

EVERY_KIND_OF_VALUE: dict[str, AttributeValue] = {
    "text": "withdrawal",
    "long.text": "x" * 300,
    "unicode": "Grüße, 在庫 🚚",
    "true": True,
    "false": False,
    "zero": 0,
    "int": 7,
    "big": 2**62,
    "negative": -42,
    "float": 0.25,
    "negative.float": -1.5e-9,
    "strings": ("a", "b"),
    "ints": (1, -2, 3),
    "bools": (True, False),
    "floats": (1.0, 2.5),
    "empty": (),
}


def _spans(resources: Sequence[Resource]) -> tuple[ReadableSpan, ...]:
    finished = InMemorySpanExporter()
    for resource in resources:
        provider = TracerProvider(resource=resource, span_limits=SpanLimits(max_span_attributes=20))
        provider.add_span_processor(SimpleSpanProcessor(finished))
        versioned = provider.get_tracer(
            "suppliers", "1.2.3", schema_url="https://opentelemetry.io/schemas/1.30.0"
        )
        bare = provider.get_tracer("bare")
        remote = SpanContext(
            trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
            span_id=0x00F067AA0BA902B7,
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
            trace_state=TraceState([("vendor", "v1"), ("other", "x")]),
        )
        with versioned.start_as_current_span(
            "POST /transactions",
            context=set_span_in_context(NonRecordingSpan(remote)),
            kind=SpanKind.SERVER,
            attributes=EVERY_KIND_OF_VALUE,
        ) as server:
            server.add_event("low_stock", {"suppliers.product.stock": 3})
            server.add_event("plain")
            for kind in SpanKind:
                with bare.start_as_current_span(f"child {kind.name}", kind=kind) as child:
                    child.set_status(StatusCode.ERROR, "deadlock detected")
            with bare.start_as_current_span("linked", links=[Link(remote, {"why": "batch"})]):
                pass
            # One key, values equal in Python but not on the wire (True == 1 == 1.0): each keeps its type.
            for same in (1, True, 1.0, "1", 1, True):
                with bare.start_as_current_span("same key", attributes={"suppliers.value": same}):
                    pass
            # More attributes than the limit: the dropped count travels too.
            with bare.start_as_current_span("crowded", attributes={f"a{i}": i for i in range(25)}) as crowded:
                crowded.set_status(StatusCode.OK)
    return finished.get_finished_spans()


@pytest.mark.parametrize(
    "resources",
    [
        [Resource.create({"service.name": "suppliers-api", "service.instance.id": "1"})],
        [Resource({"service.name": "a"}, schema_url="https://x"), Resource({"service.name": "b"})],
    ],
)
def test_the_wire_encoding_parses_to_the_sdk_encoding(resources: Sequence[Resource]) -> None:
    spans = _spans(resources)

    ours = ExportTraceServiceRequest.FromString(encode_spans(spans))

    assert ours == sdk_encode_spans(spans)
    assert sum(len(scope.spans) for r in ours.resource_spans for scope in r.scope_spans) == len(spans)
    [server] = [
        s
        for r in ours.resource_spans[:1]
        for sc in r.scope_spans
        for s in sc.spans
        if s.name.startswith("POST")
    ]
    assert server.trace_id.hex() == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert server.flags == 0x300  # the parent is remote, and known to be


def test_nothing_to_send_is_an_empty_request() -> None:
    assert encode_spans([]) == b""
    assert ExportTraceServiceRequest.FromString(b"") == sdk_encode_spans([])
