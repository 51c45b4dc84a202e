"""PodPlay sign-in and API tokens.

Seed 000 documents the two ways a client authenticates (`Authorization: Bearer
podplay_api_<token>` and `Cookie: session=<session-id>`) but no route that hands either out,
so these are Menagerie's, in PodPlay's style (`success`, snake_case, `*_id`):

- `POST /api/auth/login` (email, password) sets the `session` cookie: HttpOnly, SameSite=Lax,
  Path=/, and Secure when the request came over https; `POST /api/auth/logout` ends the
  session and clears it; `GET /api/auth/me` says who the credentials belong to.
- `POST /api/auth/tokens`, `GET /api/auth/tokens`, `DELETE /api/auth/tokens/{token_id}`: an
  admin issues, lists and revokes the tenant's API tokens. The token itself appears once, in
  the answer to `POST`; listings show its first characters (`prefix`) only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from menagerie.core.clock import iso
from menagerie.core.identity.accounts import Account
from menagerie.core.identity.models import Principal
from menagerie.core.identity.tokens import ApiTokenInfo
from menagerie.http.deps import SESSION_COOKIE, get_platform, require_principal
from menagerie.platform import Platform

router = APIRouter(prefix="/api/auth", tags=["auth"])
PlatformDep = Annotated[Platform, Depends(get_platform)]
PrincipalDep = Annotated[Principal, Depends(require_principal)]


class LoginBody(BaseModel):
    email: str = Field(max_length=320)
    password: str


class TokenCreateBody(BaseModel):
    name: str = Field(min_length=1, max_length=200)


def _user(account: Account) -> dict[str, Any]:
    return {
        "user_id": account.id,
        "email": account.email,
        "name": account.name,
        "roles": list(account.roles),
        "created_at": iso(account.created_at),
        "last_login": iso(account.last_login),
    }


def _token(info: ApiTokenInfo) -> dict[str, Any]:
    return {
        "token_id": info.id,
        "name": info.name,
        "prefix": info.prefix,
        "user_id": info.user_id,
        "status": "active" if info.active else "revoked",
        "created_at": iso(info.created_at),
        "last_used_at": iso(info.last_used_at),
        "revoked_at": iso(info.revoked_at),
    }


def _cookie_flags(request: Request) -> dict[str, Any]:
    return {
        "path": "/",
        "httponly": True,
        "samesite": "Lax",
        # the scheme the client used: uvicorn takes it from X-Forwarded-Proto of a trusted proxy
        "secure": request.url.scheme == "https",
    }


@router.post("/login")
async def login(body: LoginBody, request: Request, platform: PlatformDep) -> JSONResponse:
    signed_in = await platform.accounts.login_cookie(body.email, body.password)
    response = JSONResponse(
        {
            "success": True,
            "message": "Logged in",
            "user": _user(signed_in.account),
            "expires_in": signed_in.max_age,
        }
    )
    response.set_cookie(
        SESSION_COOKIE, signed_in.cookie, max_age=signed_in.max_age, **_cookie_flags(request)
    )
    return response


@router.post("/logout")
async def logout(request: Request, platform: PlatformDep, principal: PrincipalDep) -> JSONResponse:
    ended = await platform.accounts.logout(principal)
    response = JSONResponse({"success": True, "message": "Logged out", "session_ended": ended})
    response.delete_cookie(SESSION_COOKIE, **_cookie_flags(request))
    return response


@router.get("/me")
async def me(platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    user = await platform.identity.get_user(principal)
    return {
        "success": True,
        "user": {
            "user_id": principal.user_id,
            "email": user.email if user else None,
            "name": user.name if user else principal.user_id,
            "roles": sorted(principal.roles),
        },
        "tenant_id": principal.tenant_id,
        "auth_method": principal.via,
    }


@router.post("/tokens", status_code=201)
async def create_token(
    body: TokenCreateBody, platform: PlatformDep, principal: PrincipalDep
) -> JSONResponse:
    issued = await platform.api_tokens.create(principal, body.name)
    info = await platform.api_tokens.get(principal, issued.id)
    return JSONResponse(
        {
            "success": True,
            "message": "Store this token now: it is shown only once",
            "token": issued.token,
            **_token(info),
        },
        status_code=201,
    )


@router.get("/tokens")
async def list_tokens(platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    tokens = await platform.api_tokens.list(principal)
    return {"success": True, "tokens": [_token(t) for t in tokens], "total": len(tokens)}


@router.delete("/tokens/{token_id}")
async def revoke_token(
    token_id: str, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, Any]:
    info = await platform.api_tokens.revoke(principal, token_id)
    return {
        "success": True,
        "message": "Token revoked successfully",
        "token_id": info.id,
        "revoked_at": iso(info.revoked_at),
    }
