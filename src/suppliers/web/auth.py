"""Login and logout routes, and the bearer-token guard wired to the session cache."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.connection import ASGIConnection
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.security.jwt import OAuth2PasswordBearerAuth, Token

from suppliers.auth.principal import Principal
from suppliers.auth.schemas import MAX_USERNAME_LENGTH, USERNAME, LoginForm, MeOut, TokenOut
from suppliers.auth.secret import signing_secret
from suppliers.auth.service import AuthService, new_token_id
from suppliers.auth.tokens import CachedToken
from suppliers.settings import Settings
from suppliers.web.params import Provided
from suppliers.web.problems import problems

TOKEN_URL = "/login/token"  # noqa: S105 - a route, not a secret
PUBLIC_PATHS = ["^/$", "^/hello", "^/health", "^/metrics", "^/schema", "^/docs", "^/playground/", TOKEN_URL]


_TOKEN_ID = re.compile(r"^[0-9a-f]{32}$")

Bearer = OAuth2PasswordBearerAuth[Principal, Token]


def build_bearer_auth(settings: Settings, auth: AuthService) -> Bearer:
    async def retrieve_principal(token: Token, _: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
        # Revocation is checked here, in the same cache read as the user, rather than in a separate
        # revoked_token_handler: that would cost a second Redis round trip on every request.
        # Claims are checked before they reach Redis or SQL: a signed token is not a well-formed one.
        jti = token.jti if isinstance(token.jti, str) else ""
        if not (_TOKEN_ID.match(jti) and USERNAME.match(token.sub) and len(token.sub) <= MAX_USERNAME_LENGTH):
            return None
        return await auth.principal_for(username=token.sub, jti=jti, expires_at=token.exp)

    return Bearer(
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
        auth: Provided[AuthService],
        bearer: Provided[Bearer],
        settings: Provided[Settings],
        data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> TokenOut:
        ttl = timedelta(seconds=settings.token_ttl_seconds)
        jti = new_token_id()
        principal = await auth.login(data.username, data.password, jti=jti, token_ttl=ttl)
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
    async def logout(self, auth: Provided[AuthService], request: Request[Principal, Token, Any]) -> None:
        token = request.auth
        expires_at = token.exp if token.exp.tzinfo else token.exp.replace(tzinfo=UTC)
        await auth.logout(jti=str(token.jti or ""), expires_at=expires_at)
