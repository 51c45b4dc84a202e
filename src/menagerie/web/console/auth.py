"""`/console/api/session`: sign in with an API token or an account, see who is signed in,
sign out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from menagerie.core.errors import Invalid, Unauthorized
from menagerie.core.identity.models import Principal
from menagerie.http.openapi import errors
from menagerie.platform import Platform
from menagerie.web.console.deps import (
    API_PATH,
    CONSOLE_COOKIE,
    ConsolePrincipalDep,
    PlatformDep,
    csrf_token,
)
from menagerie.web.console.schemas.auth import ConsoleUser, SignedIn, SignIn

router = APIRouter(prefix="/session", tags=["session"])


def _cookie_flags(request: Request) -> dict[str, Any]:
    return {
        "path": API_PATH,  # no other route of the server ever receives it
        "httponly": True,
        "samesite": "strict",
        "secure": request.url.scheme == "https",
    }


async def _signed_in(platform: Platform, principal: Principal, cookie: str | None) -> SignedIn:
    user = await platform.identity.get_user(principal)
    return SignedIn(
        user=ConsoleUser(
            id=principal.user_id,
            email=user.email if user else None,
            name=user.name if user else None,
            roles=sorted(principal.roles),
            is_admin=principal.is_admin,
        ),
        tenant_id=principal.tenant_id,
        csrf_token=csrf_token(cookie) if cookie else None,
        via=principal.via,
    )


@router.post("", response_model=SignedIn, responses=errors(401))
async def sign_in(body: SignIn, request: Request, platform: PlatformDep) -> JSONResponse:
    if body.token:
        principal = await platform.identity.authenticate_bearer(body.token.strip())
        if principal.via not in ("token", "jwt"):
            raise Unauthorized(
                "The master key cannot open a browser session: sign in with an API token.",
                reason="MASTER_KEY_NOT_ACCEPTED",
            )
        cookie, info = await platform.identity.open_browser_session(principal)
        max_age = int((info.expires_at - info.created_at).total_seconds())
        principal = await platform.identity.authenticate_cookie(cookie)
    elif body.email and body.password:
        signed = await platform.accounts.login_cookie(body.email, body.password)
        cookie, max_age = signed.cookie, signed.max_age
        principal = await platform.identity.authenticate_cookie(cookie)
    else:
        raise Invalid(
            "Give an API token, or an email and a password.",
            field="token",
            received=None,
            expected="a token, or email and password",
        )
    answer = await _signed_in(platform, principal, cookie)
    response = JSONResponse(answer.model_dump(mode="json"))
    response.set_cookie(CONSOLE_COOKIE, cookie, max_age=max_age, **_cookie_flags(request))
    return response


@router.get("", response_model=SignedIn)
async def who(request: Request, platform: PlatformDep, principal: ConsolePrincipalDep) -> SignedIn:
    cookie = request.cookies.get(CONSOLE_COOKIE) if principal.via == "cookie" else None
    return await _signed_in(platform, principal, cookie)


@router.delete("", status_code=204)
async def sign_out(
    request: Request, platform: PlatformDep, principal: ConsolePrincipalDep
) -> Response:
    await platform.accounts.logout(principal)
    response = Response(status_code=204)
    response.delete_cookie(CONSOLE_COOKIE, **_cookie_flags(request))
    return response
