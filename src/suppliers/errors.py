"""The base of every refusal the service makes on purpose. The web layer renders it as RFC 9457."""

from __future__ import annotations


class DomainError(Exception):
    """A request the rules refuse. ``status`` is the HTTP status the web layer answers with."""

    status: int = 400
    title: str = "Request refused"
    outcome: str = "refused"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
