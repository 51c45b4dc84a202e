"""Crazy Gary `/api/auth/*`: register, login, refresh, me, change-password, validate.

Shapes are seed 004's "Authentication Endpoints". Two additions a client needs: `refresh`
also returns the next `refresh_token` (refresh tokens are single-use and rotate), and it
accepts the refresh token in a JSON body when no `Authorization` header is sent. User ids
are Menagerie's opaque strings (`usr_…`), not the seed's integers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from menagerie.core.clock import iso
from menagerie.core.errors import CredentialsMissing, Invalid, Unauthorized
from menagerie.core.identity.accounts import Account
from menagerie.core.identity.models import Principal, TokenPair
from menagerie.http.deps import bearer_token, get_platform, optional_principal, require_principal
from menagerie.platform import Platform

router = APIRouter(prefix="/api/auth", tags=["auth"])
PlatformDep = Annotated[Platform, Depends(get_platform)]
PrincipalDep = Annotated[Principal, Depends(require_principal)]


class RegisterBody(BaseModel):
    model_config = ConfigDict(extra="ignore")  # `role`, `is_admin` … are not the caller's to set

    email: str = Field(max_length=320)
    password: str
    fullName: str | None = Field(None, max_length=200)  # the seed's spelling
    name: str | None = Field(None, max_length=200, description="accepted for fullName")


class LoginBody(BaseModel):
    email: str = Field(max_length=320)
    password: str


class RefreshBody(BaseModel):
    refresh_token: str | None = Field(None, max_length=512)


class ProfileBody(BaseModel):
    # unknown fields pass through to the account service, whose allow-list ignores them
    model_config = ConfigDict(extra="allow")

    name: str | None = Field(None, max_length=200)
    fullName: str | None = Field(None, max_length=200)


class ChangePasswordBody(BaseModel):
    current_password: str
    new_password: str


def user_body(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "email": account.email,
        "name": account.name,
        "created_at": iso(account.created_at),
        "last_login": iso(account.last_login),
    }


def _tokens_body(tokens: TokenPair, account: Account) -> dict[str, Any]:
    return {
        "token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_in": tokens.expires_in,
        "user": user_body(account),
    }


@contextmanager
def validation_errors() -> Iterator[None]:
    """Gary has one code for bad input, VALIDATION_ERROR: a weak password is one of them."""
    try:
        yield
    except Invalid as error:
        if error.reason != "WEAK_PASSWORD":
            raise
        raise Invalid(
            error.message,
            field=error.field,
            received=error.received,
            expected=error.expected,
            errors=error.errors,
        ) from None


@router.post("/register", status_code=201)
async def register(body: RegisterBody, platform: PlatformDep) -> JSONResponse:
    with validation_errors():
        signed_in = await platform.accounts.register(
            body.email, body.password, body.fullName or body.name
        )
    return JSONResponse(_tokens_body(signed_in.tokens, signed_in.account), status_code=201)


@router.post("/login")
async def login(body: LoginBody, platform: PlatformDep) -> dict[str, Any]:
    signed_in = await platform.accounts.login(body.email, body.password)
    return _tokens_body(signed_in.tokens, signed_in.account)


@router.post("/refresh")
async def refresh(
    request: Request, platform: PlatformDep, body: RefreshBody | None = None
) -> dict[str, Any]:
    token = bearer_token(request) or (body.refresh_token if body else None)
    if not token:
        raise CredentialsMissing("send the refresh token as 'Authorization: Bearer <token>'")
    tokens = await platform.accounts.refresh(token)
    return {
        "token": tokens.access_token,
        "expires_in": tokens.expires_in,
        "refresh_token": tokens.refresh_token,  # the old one is spent: keep this one
    }


@router.get("/me")
async def me(platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"user": user_body(await platform.accounts.me(principal))}


@router.put("/me")
async def update_me(
    body: ProfileBody, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    full_name = changes.pop("fullName", None)
    if full_name is not None and changes.get("name") is None:
        changes["name"] = full_name
    if changes.get("name") is None:
        changes.pop("name", None)
    account = await platform.accounts.update_me(principal, changes)
    return {"user": user_body(account)}


@router.post("/change-password")
async def change_password(
    body: ChangePasswordBody, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, str]:
    with validation_errors():
        await platform.accounts.change_password(principal, body.current_password, body.new_password)
    return {"message": "Password changed successfully"}


@router.get("/validate")
async def validate(request: Request, platform: PlatformDep) -> JSONResponse:
    try:
        principal = await optional_principal(request)
    except Unauthorized:
        principal = None
    if principal is None:
        # documented as a bare `{"valid": false}`, not the error envelope
        return JSONResponse({"valid": False}, status_code=401)
    user = await platform.identity.get_user(principal)
    return JSONResponse(
        {
            "valid": True,
            "user": {
                "id": principal.user_id,
                "email": user.email if user else None,
                "name": user.name if user else principal.user_id,
                "roles": sorted(principal.roles),
            },
        }
    )
