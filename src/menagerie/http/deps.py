"""Request dependencies every dialect shares: the platform, the caller, and the admin guard.

Each dialect's `deps.py` re-exports these (and adds its own auth scheme where its seed has
one); no route module defines a dependency of its own.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from opentelemetry import trace

from menagerie.core.errors import CredentialsMissing, Unauthorized
from menagerie.core.identity.models import Principal
from menagerie.platform import Platform

SESSION_COOKIE = "session"  # PodPlay's browser session, set by a login
CONSOLE_COOKIE = "menagerie_console"  # the web console's, sent to /console/api only


def get_platform(request: Request) -> Platform:
    return request.app.state.platform


async def platform_of(request: Request) -> Platform:
    """`get_platform` as a dependency: FastAPI runs a plain `def` dependency in a worker
    thread, a hand-off that costs more than the lookup itself on every request."""
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
    if principal is not None:  # the request's span says whose it is while still in flight
        trace.get_current_span().set_attribute("menagerie.tenant_id", principal.tenant_id)
    return principal


async def require_principal(request: Request) -> Principal:
    principal = await optional_principal(request)
    if principal is None:
        raise CredentialsMissing("authentication required")
    return principal


async def require_admin(request: Request) -> Principal:
    """An operator action: the caller must be an admin of its tenant (403 otherwise)."""
    principal = await require_principal(request)
    return principal.require_admin(f"{request.method} {request.url.path}")


PlatformDep = Annotated[Platform, Depends(platform_of)]
PrincipalDep = Annotated[Principal, Depends(require_principal)]
OptionalPrincipalDep = Annotated[Principal | None, Depends(optional_principal)]
AdminDep = Annotated[Principal, Depends(require_admin)]
