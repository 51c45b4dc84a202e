"""The console's caller: a browser session cookie, with a CSRF token on every write.

Sign-in (`auth.py`) opens a server-side session and sets it in an HttpOnly, SameSite=Strict
cookie scoped to the console's API. Writes also carry `X-CSRF-Token`, derived from the cookie
and handed to the page in the sign-in answer: another site can make the browser send the
cookie, but cannot read the token. A bearer credential works too (scripts, tests) and needs no
CSRF token, since a browser never adds one on its own.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Request

from menagerie.core.errors import CredentialsMissing, Forbidden
from menagerie.core.identity.models import Principal
from menagerie.http.deps import CONSOLE_COOKIE, PlatformDep, bearer_token, get_platform

__all__ = [
    "CONSOLE_COOKIE",
    "CSRF_HEADER",
    "ConsoleAdminDep",
    "ConsolePrincipalDep",
    "PlatformDep",
    "console_admin",
    "console_principal",
    "csrf_token",
]

CSRF_HEADER = "x-csrf-token"
API_PATH = "/console/api"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token(cookie: str) -> str:
    """A value only a page that was handed it (or holds the cookie) can know."""
    return hmac.new(cookie.encode(), b"menagerie-console-csrf", hashlib.sha256).hexdigest()


async def console_principal(request: Request) -> Principal:
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    identity = get_platform(request).identity
    token = bearer_token(request)
    if token is not None:
        principal = await identity.authenticate_bearer(token)
    else:
        cookie = request.cookies.get(CONSOLE_COOKIE)
        if not cookie:
            raise CredentialsMissing("Sign in to use the console.")
        principal = await identity.authenticate_cookie(cookie)
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), csrf_token(cookie).encode()):
                raise Forbidden(
                    "The page's security token is missing or stale: reload the page.",
                    reason="CSRF_TOKEN_INVALID",
                )
    request.state.principal = principal
    return principal


async def console_admin(request: Request) -> Principal:
    principal = await console_principal(request)
    if not principal.is_admin:
        raise Forbidden("Only an admin of your tenant can do this.", reason="ADMIN_REQUIRED")
    return principal


ConsolePrincipalDep = Annotated[Principal, Depends(console_principal)]
ConsoleAdminDep = Annotated[Principal, Depends(console_admin)]
