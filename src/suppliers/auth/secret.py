"""The key that signs access tokens: never a published default.

Outside development the API refuses to start without SUPPLIERS_JWT_SECRET. In development,
`suppliers serve` keeps a generated key with its data (so tokens survive a restart of `make run`),
and an app built without one (a test, a bare `uvicorn --factory`) signs with a random key of its own.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from suppliers.settings import ConfigurationError, Settings

_log = logging.getLogger(__name__)

SECRET_FILE = "jwt-secret"  # noqa: S105 - a file name, not a secret


def _new_secret() -> str:
    return secrets.token_urlsafe(48)


def signing_secret(settings: Settings) -> str:
    if settings.jwt_secret:
        return settings.jwt_secret
    if settings.environment != "development":
        raise ConfigurationError(
            f"SUPPLIERS_JWT_SECRET is not set; the {settings.environment!r} environment needs one "
            "(make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    _log.warning(
        "SUPPLIERS_JWT_SECRET is not set: tokens are signed with a random key until this process ends"
    )
    return _new_secret()


def development_secret(data_dir: Path) -> str:
    """The key kept in ``data_dir`` for `make run`, made on first use (readable by its owner only)."""
    path = data_dir / SECRET_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = _new_secret()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret + "\n")
    return secret
