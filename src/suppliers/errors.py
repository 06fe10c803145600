"""Refusals the service makes on purpose, and the generic ones every domain uses.

The web layer renders each as an RFC 9457 problem detail with the error's status.
"""

from __future__ import annotations

import uuid


class DomainError(Exception):
    """A request the rules refuse. ``status`` is the HTTP status the web layer answers with."""

    status: int = 400
    title: str = "Request refused"
    outcome: str = "refused"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}


class NotFound(DomainError):
    status = 404
    title = "Not found"
    outcome = "not_found"

    def __init__(self, kind: str, identifier: uuid.UUID | str) -> None:
        super().__init__(f"{kind} {identifier} does not exist")
        self.kind = kind
        self.identifier = identifier


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"
    outcome = "forbidden"
