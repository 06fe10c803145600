"""OTLP/HTTP span export that writes the protobuf wire format directly.

The SDK's exporter builds a tree of protobuf message objects for every span (a ``KeyValue`` and an
``AnyValue`` per attribute) and then serialises the tree: measured here, that is most of what a span
costs after it ends (see ``python -m bench.telemetry``), paid on the export thread but on the same
cores, under the same GIL, as the requests. The OTLP trace messages are small and stable, so this
module writes their bytes in one pass instead: the same ``ExportTraceServiceRequest`` (the tests
parse both encodings and compare them), for about a quarter of the CPU (bench.telemetry's encoding
rows). Everything else (endpoint, headers, compression, retries, timeouts, the
``OTEL_EXPORTER_OTLP_*`` variables) is the SDK exporter's own.

Field numbers are those of opentelemetry/proto/trace/v1/trace.proto and common/v1/common.proto.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http._common import RequestPayloadTooLargeError
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE

_log = logging.getLogger(__name__)

_FIXED64 = struct.Struct("<Q").pack
_FIXED32 = struct.Struct("<I").pack
_DOUBLE = struct.Struct("<d").pack
_ONE_BYTE = [bytes((n,)) for n in range(128)]

# Span.flags: the parent's is_remote bit is known (0x100), and set (0x200) when the parent is remote.
_LOCAL_PARENT = _FIXED32(0x100)
_REMOTE_PARENT = _FIXED32(0x300)
# Span.kind: the API's SpanKind values are OTLP's minus one (OTLP keeps 0 for "unspecified").
_KIND = [b"\x30" + _ONE_BYTE[value + 1] for value in range(5)]


def _varint(value: int) -> bytes:
    if value < 0x80:
        return _ONE_BYTE[value]
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    size = len(payload)
    return tag + (_ONE_BYTE[size] if size < 0x80 else _varint(size)) + payload


def _text(value: str) -> bytes:
    # A str the SDK accepted can still hold lone surrogates, which are not UTF-8: replace them.
    return value.encode("utf-8", "replace")


def _any_value(value: Any) -> bytes:
    """An ``AnyValue`` message: the one field of its oneof that the value's type selects."""
    if isinstance(value, str):
        return _field(b"\x0a", _text(value))
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        return b"\x18" + _varint(value & 0xFFFF_FFFF_FFFF_FFFF)  # int64: two's complement
    if isinstance(value, float):
        return b"\x21" + _DOUBLE(value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if isinstance(value, Sequence):
        return _field(b"\x2a", b"".join(_field(b"\x0a", _any_value(item)) for item in value))
    if isinstance(value, Mapping):
        return _field(b"\x32", b"".join(_field(b"\x0a", _key_value(str(k), v)) for k, v in value.items()))
    if value is None:
        return b""
    raise TypeError(f"cannot encode an attribute value of type {type(value).__name__}")


# Attribute keys are a small, fixed set: each is encoded once. So are most values of most keys (a
# method, a route, a status, the database's address, a statement's text): a key's key-value pairs are
# kept encoded until it shows more than _VALUES_A_KEY distinct values (ids, paths, timestamps), after
# which its pairs are encoded each time. Both caches stay bounded by the app's own attribute names.
_KEYS: dict[str, bytes] = {}
_PAIRS: dict[tuple[str, type, Any], bytes] = {}  # the type too: True == 1 == 1.0
_VALUES: dict[str, int] = {}
_VALUES_A_KEY = 64


def _key_value(key: str, value: Any) -> bytes:
    encoded_key = _KEYS.get(key)
    if encoded_key is None:
        encoded_key = _KEYS[key] = _field(b"\x0a", _text(key))
    return encoded_key + _field(b"\x12", _any_value(value))


def _attributes(tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
    """Repeated ``KeyValue`` under ``tag``; a value that cannot be encoded is left out and logged."""
    if not attributes:
        return b""
    parts = []
    for key, value in attributes.items():
        kind = type(value)
        hashable = kind in _SCALARS
        if hashable and (pair := _PAIRS.get((key, kind, value))) is not None:
            parts.append(tag + pair)
            continue
        try:
            key_value = _key_value(key, value)
        except (TypeError, ValueError) as error:
            _log.warning("attribute %r left out of the exported span: %s", key, error)
            continue
        pair = (_ONE_BYTE[len(key_value)] if len(key_value) < 0x80 else _varint(len(key_value))) + key_value
        parts.append(tag + pair)
        if hashable and (seen := _VALUES.get(key, 0)) < _VALUES_A_KEY:
            _VALUES[key] = seen + 1
            _PAIRS[(key, kind, value)] = pair
    return b"".join(parts)


_SCALARS = frozenset({str, int, bool, float})


def _span(span: ReadableSpan) -> bytes:
    context = span.get_span_context()
    if context is None:  # only a span that was never started has none
        raise ValueError(f"span {span.name!r} has no context")
    parent = span.parent
    parts = [
        b"\x0a\x10",
        context.trace_id.to_bytes(16, "big"),
        b"\x12\x08",
        context.span_id.to_bytes(8, "big"),
    ]
    if context.trace_state:
        state = ",".join(f"{key}={value}" for key, value in context.trace_state.items())
        parts.append(_field(b"\x1a", _text(state)))
    if parent is not None:
        parts += (b"\x22\x08", parent.span_id.to_bytes(8, "big"))
    parts += (
        _field(b"\x2a", _text(span.name)),
        _KIND[span.kind.value],
        b"\x39",
        _FIXED64(span.start_time or 0),
        b"\x41",
        _FIXED64(span.end_time or 0),
        _attributes(b"\x4a", span.attributes),
    )
    if span.dropped_attributes:
        parts.append(b"\x50" + _varint(span.dropped_attributes))
    for event in span.events:
        body = b"\x09" + _FIXED64(event.timestamp) + _field(b"\x12", _text(event.name))
        body += _attributes(b"\x1a", event.attributes)
        if event.dropped_attributes:
            body += b"\x20" + _varint(event.dropped_attributes)
        parts.append(_field(b"\x5a", body))
    if span.dropped_events:
        parts.append(b"\x60" + _varint(span.dropped_events))
    for link in span.links:
        linked = link.context
        body = (
            b"\x0a\x10"
            + linked.trace_id.to_bytes(16, "big")
            + b"\x12\x08"
            + linked.span_id.to_bytes(8, "big")
        )
        body += _attributes(b"\x22", link.attributes)
        if link.dropped_attributes:
            body += b"\x28" + _varint(link.dropped_attributes)
        body += b"\x35" + (_REMOTE_PARENT if linked.is_remote else _LOCAL_PARENT)
        parts.append(_field(b"\x6a", body))
    if span.dropped_links:
        parts.append(b"\x70" + _varint(span.dropped_links))
    status = span.status
    encoded_status = _field(b"\x12", _text(status.description)) if status.description else b""
    if status.status_code.value:
        encoded_status += b"\x18" + _ONE_BYTE[status.status_code.value]
    parts += (_field(b"\x7a", encoded_status), b"\x85\x01")
    parts.append(_REMOTE_PARENT if parent is not None and parent.is_remote else _LOCAL_PARENT)
    return b"".join(parts)


def encode_spans(spans: Sequence[ReadableSpan]) -> bytes:
    """An ``ExportTraceServiceRequest``: the spans grouped by resource, then by instrumentation scope."""
    # Spans of one provider share their resource and scope objects: group by identity, not by
    # hashing a resource's attributes for every span as the SDK's encoder does.
    resources: dict[int, tuple[Any, dict[int, tuple[Any, list[bytes]]]]] = {}
    for span in spans:
        resource = span.resource
        found = resources.get(id(resource))
        if found is None:
            found = resources[id(resource)] = (resource, {})
        scopes = found[1]
        scope = span.instrumentation_scope
        group = scopes.get(id(scope))
        if group is None:
            group = scopes[id(scope)] = (scope, [])
        group[1].append(_field(b"\x12", _span(span)))
    out = []
    for resource, scopes in resources.values():
        body = [_field(b"\x0a", _attributes(b"\x0a", resource.attributes))]
        for scope, encoded_spans in scopes.values():
            described = b""
            if scope is not None:
                described = _field(b"\x0a", _text(scope.name))
                if scope.version:
                    described += _field(b"\x12", _text(scope.version))
                described += _attributes(b"\x1a", scope.attributes)
            scope_spans = _field(b"\x0a", described) + b"".join(encoded_spans)
            if scope is not None and scope.schema_url:
                scope_spans += _field(b"\x1a", _text(scope.schema_url))
            body.append(_field(b"\x12", scope_spans))
        if resource.schema_url:
            body.append(_field(b"\x1a", _text(resource.schema_url)))
        out.append(_field(b"\x0a", b"".join(body)))
    return b"".join(out)


class WireSpanExporter(OTLPSpanExporter):
    """The SDK's OTLP/HTTP span exporter with :func:`encode_spans` in place of its encoder.

    ``export`` follows the SDK's (opentelemetry-exporter-otlp-proto-http 1.45) step for step: its
    self-metrics, its size limit and its HTTP client with retries; only the encoding differs.
    """

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            _log.warning("span exporter already shut down, ignoring a batch")
            return SpanExportResult.FAILURE
        with self._metrics.export_operation(len(spans)) as result:
            serialized = encode_spans(spans)
            if 0 < self._max_request_size < len(serialized):
                _log.warning(
                    "dropping a span batch of %d bytes: over max_request_size (%d bytes)",
                    len(serialized),
                    self._max_request_size,
                )
                result.error = RequestPayloadTooLargeError(f"{len(serialized)} bytes")
                return SpanExportResult.FAILURE
            sent = self._client.export(serialized)
            if not sent.success:
                result.error = sent.error
                if sent.status_code is not None:
                    result.error_attrs = {HTTP_RESPONSE_STATUS_CODE: sent.status_code}
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS
