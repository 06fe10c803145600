"""Login and logout routes, and the bearer-token guard wired to the session cache."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.connection import ASGIConnection
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.security.jwt import OAuth2PasswordBearerAuth, Token

from suppliers.auth.principal import Principal
from suppliers.auth.secret import signing_secret
from suppliers.auth.service import new_token_id
from suppliers.auth.tokens import CachedToken
from suppliers.settings import Settings
from suppliers.web.dependencies import context_of
from suppliers.web.problems import problems

TOKEN_URL = "/login/token"  # noqa: S105 - a route, not a secret
PUBLIC_PATHS = ["^/$", "^/hello", "^/health", "^/metrics", "^/schema", "^/docs", "^/playground/", TOKEN_URL]


# PostgreSQL text cannot hold NUL, and no username has control characters.
USERNAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"
_USERNAME = re.compile(USERNAME_PATTERN)
_TOKEN_ID = re.compile(r"^[0-9a-f]{32}$")


class LoginForm(msgspec.Struct):
    """OAuth2 password grant fields (the other OAuth2 fields, if sent, are ignored)."""

    username: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=USERNAME_PATTERN)]
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


async def retrieve_principal(
    token: Token, connection: ASGIConnection[Any, Any, Any, Any]
) -> Principal | None:
    # Revocation is checked here, in the same cache read as the user, rather than in a separate
    # revoked_token_handler: that would cost a second Redis round trip on every request.
    # Claims are checked before they reach Redis or SQL: a signed token is not a well-formed one.
    jti = token.jti if isinstance(token.jti, str) else ""
    if not (_TOKEN_ID.match(jti) and _USERNAME.match(token.sub) and len(token.sub) <= 64):
        return None
    return await context_of(connection.app.state).auth.principal_for(
        username=token.sub, jti=jti, expires_at=token.exp
    )


def build_bearer_auth(settings: Settings) -> OAuth2PasswordBearerAuth[Principal, Token]:
    return OAuth2PasswordBearerAuth[Principal, Token](
        token_secret=signing_secret(settings),
        token_cls=CachedToken,
        token_url=TOKEN_URL,
        retrieve_user_handler=retrieve_principal,
        default_token_expiration=timedelta(seconds=settings.token_ttl_seconds),
        exclude=PUBLIC_PATHS,
        description="Sign in with a demo user (a … z, password = username) through the password flow.",
    )


class LoginController(Controller):
    path = "/login"
    tags = ["login"]

    @post(
        "/token",
        status_code=200,
        summary="Sign in (OAuth2 password flow)",
        description="Returns a bearer token. Failed attempts are counted per username: too many gives 429.",
        responses=problems(401, 422, 429),
        exclude_from_auth=True,
    )
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> TokenOut:
        ctx = context_of(request.app.state)
        ttl = timedelta(seconds=ctx.settings.token_ttl_seconds)
        jti = new_token_id()
        principal = await ctx.auth.login(data.username, data.password, jti=jti, token_ttl=ttl)
        bearer: OAuth2PasswordBearerAuth[Principal, Token] = request.app.state.bearer_auth
        token = bearer.create_token(
            identifier=principal.username, token_expiration=ttl, token_unique_jwt_id=jti
        )
        return TokenOut(access_token=token, token_type="bearer", expires_in=int(ttl.total_seconds()))  # noqa: S106

    @get(
        "/me",
        summary="Who am I",
        description="The signed-in user, their role and their vendor (an operator may act for any vendor).",
        responses=problems(401),
        security=[{"BearerToken": []}],
    )
    async def me(self, request: Request[Principal, Token, Any]) -> MeOut:
        principal = request.user
        return MeOut(username=principal.username, role=principal.role, vendor_id=principal.vendor_id)

    @post(
        "/logout",
        status_code=204,
        summary="Revoke the token this request carries",
        responses=problems(401),
        security=[{"BearerToken": []}],
    )
    async def logout(self, request: Request[Principal, Token, Any]) -> None:
        token = request.auth
        expires_at = token.exp if token.exp.tzinfo else token.exp.replace(tzinfo=UTC)
        await context_of(request.app.state).auth.logout(jti=str(token.jti or ""), expires_at=expires_at)
