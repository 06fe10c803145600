"""Limits on what a request body may be, checked before it is decoded.

Every body this API takes is a flat object of a few fields. A decoder walking ``[[[[…]]]]`` a few
thousand levels deep runs out of stack (RecursionError: a 500 for 4 KB of input), so nesting is
measured on the raw bytes first, and the size of any body is capped well below Litestar's 10 MB.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request
from litestar.exceptions import ValidationException

MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(rb"[\[\]{}]")


def json_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in ``body`` (brackets inside strings do not count)."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRINGS.sub(b'""', body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


class LimitedRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        body = await self.body()
        if json_depth(body) > MAX_JSON_DEPTH:
            reason = f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
            raise ValidationException(reason, extra=[{"key": "body", "message": reason}])
        return await super().json()
