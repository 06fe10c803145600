"""Authentication refusals."""

from __future__ import annotations

from suppliers.errors import DomainError


class InvalidCredentials(DomainError):
    status = 401
    title = "Invalid credentials"
    outcome = "invalid_credentials"

    def __init__(self) -> None:
        super().__init__("wrong username or password", headers={"WWW-Authenticate": "Bearer"})


class TooManyAttempts(DomainError):
    status = 429
    title = "Too many login attempts"
    outcome = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many failed logins for this user; try again in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after
