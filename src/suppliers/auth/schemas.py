"""What the login routes accept and return."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

import msgspec

# PostgreSQL text cannot hold NUL, and no username has control characters.
USERNAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"
USERNAME = re.compile(USERNAME_PATTERN)
MAX_USERNAME_LENGTH = 64


class LoginForm(msgspec.Struct):
    """OAuth2 password grant fields (the other OAuth2 fields, if sent, are ignored)."""

    username: Annotated[
        str, msgspec.Meta(min_length=1, max_length=MAX_USERNAME_LENGTH, pattern=USERNAME_PATTERN)
    ]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class TokenOut(msgspec.Struct):
    access_token: str
    token_type: str
    expires_in: int


class MeOut(msgspec.Struct):
    """The signed-in user: whom they act for decides which transactions they may record."""

    username: str
    role: str
    vendor_id: uuid.UUID | None
