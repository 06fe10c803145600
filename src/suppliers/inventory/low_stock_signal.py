"""The signal a withdrawal sends when it takes a product under the resupply threshold.

A PostgreSQL NOTIFY on one channel, sent inside the withdrawal's own transaction (so only a
committed withdrawal wakes anyone), carrying the sender's span context so the resupply run it
triggers can link back to it across processes and replicas.
"""

from __future__ import annotations

from opentelemetry.trace import Link, SpanContext, TraceFlags

CHANNEL = "suppliers_low_stock"


def encode(span_context: SpanContext) -> str:
    return f"{span_context.trace_id:032x}-{span_context.span_id:016x}" if span_context.is_valid else ""


def decode(payload: str) -> Link | None:
    """The link to the span that sent ``payload``, or None when it carries none."""
    trace_id, _, span_id = payload.partition("-")
    try:
        context = SpanContext(
            int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED)
        )
    except ValueError:
        return None
    return Link(context) if context.is_valid else None
