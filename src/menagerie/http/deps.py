"""Request dependencies every dialect shares: the platform and the caller's principal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

from menagerie.core.errors import CredentialsMissing, Unauthorized
from menagerie.core.identity.models import Principal

if TYPE_CHECKING:
    from menagerie.platform import Platform


SESSION_COOKIE = "session"  # PodPlay's browser session, set by a login


def get_platform(request: Request) -> Platform:
    return request.app.state.platform


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    return credentials.strip()


async def optional_principal(request: Request) -> Principal | None:
    """The caller, from its bearer credential or session cookie; in dev mode, the default
    principal otherwise.

    A credential that is present but wrong is always rejected, dev mode or not.
    """
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    platform = get_platform(request)
    token = bearer_token(request)
    principal: Principal | None = None
    cookie = request.cookies.get(SESSION_COOKIE)
    if token is not None:
        principal = await platform.identity.authenticate_bearer(token)
    elif cookie:
        principal = await platform.identity.authenticate_cookie(cookie)
    elif platform.identity.dev_mode:
        principal = platform.identity.dev_principal()
    request.state.principal = principal
    return principal


async def require_principal(request: Request) -> Principal:
    principal = await optional_principal(request)
    if principal is None:
        raise CredentialsMissing("authentication required")
    return principal
