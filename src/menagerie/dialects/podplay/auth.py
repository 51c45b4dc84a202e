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

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from menagerie.core.clock import iso
from menagerie.core.identity.accounts import Account
from menagerie.core.identity.tokens import ApiTokenInfo
from menagerie.dialects.podplay.deps import AdminDep, PlatformDep, PrincipalDep
from menagerie.dialects.podplay.schemas.auth import (
    LoggedIn,
    LoggedOut,
    LoginIn,
    Me,
    TokenCreateIn,
    TokenInfo,
    TokenIssued,
    TokenList,
    TokenRevoked,
    User,
)
from menagerie.http.deps import SESSION_COOKIE
from menagerie.http.openapi import errors

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _user(account: Account) -> User:
    return User(
        user_id=account.id,
        email=account.email,
        name=account.name,
        roles=list(account.roles),
        created_at=iso(account.created_at),
        last_login=iso(account.last_login),
    )


def _token(info: ApiTokenInfo) -> TokenInfo:
    return TokenInfo(
        token_id=info.id,
        name=info.name,
        prefix=info.prefix,
        user_id=info.user_id,
        status="active" if info.active else "revoked",
        created_at=iso(info.created_at) or "",
        last_used_at=iso(info.last_used_at),
        revoked_at=iso(info.revoked_at),
    )


def _cookie_flags(request: Request) -> dict[str, Any]:
    return {
        "path": "/",
        "httponly": True,
        "samesite": "Lax",
        # the scheme the client used: uvicorn takes it from X-Forwarded-Proto of a trusted proxy
        "secure": request.url.scheme == "https",
    }


@router.post("/login", response_model=LoggedIn, responses=errors(401))
async def login(body: LoginIn, request: Request, platform: PlatformDep) -> JSONResponse:
    signed_in = await platform.accounts.login_cookie(body.email, body.password)
    answer = LoggedIn(
        message="Logged in", user=_user(signed_in.account), expires_in=signed_in.max_age
    )
    # the answer sets a cookie, so it is a response of its own, built from the model
    response = JSONResponse(answer.model_dump(mode="json"))
    response.set_cookie(
        SESSION_COOKIE, signed_in.cookie, max_age=signed_in.max_age, **_cookie_flags(request)
    )
    return response


@router.post("/logout", response_model=LoggedOut)
async def logout(request: Request, platform: PlatformDep, principal: PrincipalDep) -> JSONResponse:
    ended = await platform.accounts.logout(principal)
    answer = LoggedOut(message="Logged out", session_ended=ended)
    response = JSONResponse(answer.model_dump(mode="json"))
    response.delete_cookie(SESSION_COOKIE, **_cookie_flags(request))
    return response


@router.get("/me", response_model=Me)
async def me(platform: PlatformDep, principal: PrincipalDep) -> Me:
    user = await platform.identity.get_user(principal)
    return Me(
        user=User(
            user_id=principal.user_id,
            email=user.email if user else None,
            name=user.name if user else principal.user_id,
            roles=sorted(principal.roles),
        ),
        tenant_id=principal.tenant_id,
        auth_method=principal.via,
    )


@router.post("/tokens", status_code=201, response_model=TokenIssued)
async def create_token(
    body: TokenCreateIn, platform: PlatformDep, principal: AdminDep
) -> TokenIssued:
    issued = await platform.api_tokens.create(principal, body.name)
    info = await platform.api_tokens.get(principal, issued.id)
    return TokenIssued(
        message="Store this token now: it is shown only once",
        token=issued.token,
        **_token(info).model_dump(),
    )


@router.get("/tokens", response_model=TokenList)
async def list_tokens(platform: PlatformDep, principal: AdminDep) -> TokenList:
    tokens = await platform.api_tokens.list(principal)
    return TokenList(tokens=[_token(t) for t in tokens], total=len(tokens))


@router.delete("/tokens/{token_id}", response_model=TokenRevoked, responses=errors(404))
async def revoke_token(token_id: str, platform: PlatformDep, principal: AdminDep) -> TokenRevoked:
    info = await platform.api_tokens.revoke(principal, token_id)
    return TokenRevoked(
        message="Token revoked successfully", token_id=info.id, revoked_at=iso(info.revoked_at)
    )
