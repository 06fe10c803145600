"""SQL spans named by what the statement does (``db.query.summary``), not by its first keyword.

The asyncpg instrumentation names a statement's span after its first word, so a stock movement
(one ``WITH … INSERT … UPDATE`` statement) shows in Tempo as ``WITH``. The stable database
conventions name it by its summary instead: the operation and the tables it touches
(``SELECT products``), or a name the statement gives itself in a leading comment
(``/* movement transactions */ WITH …``), which PostgreSQL's ``pg_stat_activity`` shows too.

Statements repeat (they are prepared once and run many times), so each text is summarised once.
"""

from __future__ import annotations

import re

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanKind

QUERY_TEXT = "db.query.text"
QUERY_SUMMARY = "db.query.summary"
SYSTEM = "db.system.name"

_NAMED = re.compile(r"^\s*/\*\s*(?P<name>[^*]+?)\s*\*/")
_OPERATION = re.compile(r"^\s*(?:/\*.*?\*/\s*)?(?P<operation>[A-Za-z]+)")
# The tables a statement reads or writes, in order: what follows FROM, JOIN, INTO or UPDATE (not
# the row locks of FOR UPDATE, nor an upsert's DO UPDATE)
# (a subquery's "(" or a function call such as pg_sleep(…), "(" right after the name, is not one).
_TARGET = re.compile(
    r"\b(?:FROM|JOIN|INTO|(?<!FOR\s)(?<!DO\s)UPDATE)\s+(?P<table>[A-Za-z_][\w.]*)\b(?!\()", re.IGNORECASE
)
# Statements are a bounded set in this service; the bound keeps it so if one ever is not.
_CACHE_LIMIT = 2048


def summary_of(sql: str) -> str:
    """``/* movement transactions */ WITH …`` → ``movement transactions``;
    ``SELECT … FROM products JOIN vendors …`` → ``SELECT products vendors``; ``BEGIN`` → ``BEGIN``."""
    if named := _NAMED.match(sql):
        return named["name"]
    found = _OPERATION.match(sql)
    if found is None:
        return "SQL"
    tables = dict.fromkeys(match["table"] for match in _TARGET.finditer(sql))
    return " ".join((found["operation"].upper(), *tables))


class QuerySummaries(SpanProcessor):
    """Renames each database client span to its statement's summary as the span starts."""

    def __init__(self) -> None:
        self._summaries: dict[str, str] = {}

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        attributes = span.attributes
        if span.kind is not SpanKind.CLIENT or not attributes or attributes.get(SYSTEM) != "postgresql":
            return
        sql = attributes.get(QUERY_TEXT)
        if not isinstance(sql, str):
            return
        summary = self._summaries.get(sql)
        if summary is None:
            if len(self._summaries) >= _CACHE_LIMIT:
                self._summaries.clear()
            summary = self._summaries[sql] = summary_of(sql)
        span.update_name(summary)
        span.set_attribute(QUERY_SUMMARY, summary)

    def on_end(self, span: ReadableSpan) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
