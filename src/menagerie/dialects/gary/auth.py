"""Crazy Gary `/api/auth/*`: register, login, refresh, me, change-password, validate.

Shapes are seed 004's "Authentication Endpoints". Two additions a client needs: `refresh`
also returns the next `refresh_token` (refresh tokens are single-use and rotate), and it
accepts the refresh token in a JSON body when no `Authorization` header is sent. User ids
are integers as the seed shows: each user's number (core/identity/numbers.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from menagerie.core.clock import iso
from menagerie.core.errors import CredentialsMissing, Unauthorized
from menagerie.core.identity.accounts import Account, SignIn
from menagerie.dialects.gary.deps import PlatformDep, PrincipalDep
from menagerie.dialects.gary.schemas.auth import (
    AccountUser,
    ChangePasswordBody,
    LoginBody,
    Message,
    NotValid,
    Profile,
    ProfileBody,
    RefreshBody,
    Refreshed,
    RegisterBody,
    SignedIn,
    Validated,
    ValidatedUser,
)
from menagerie.http.deps import bearer_token, optional_principal
from menagerie.http.openapi import errors

router = APIRouter(prefix="/api/auth", tags=["auth"])


def account_user(account: Account) -> AccountUser:
    return AccountUser(
        id=account.number,
        email=account.email,
        name=account.name,
        created_at=iso(account.created_at) or "",
        last_login=iso(account.last_login),
    )


def _signed_in(signed_in: SignIn) -> SignedIn:
    tokens = signed_in.tokens
    return SignedIn(
        token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
        user=account_user(signed_in.account),
    )


@router.post("/register", status_code=201, response_model=SignedIn, responses=errors(409))
async def register(body: RegisterBody, platform: PlatformDep) -> SignedIn:
    signed_in = await platform.accounts.register(
        body.email, body.password, body.fullName or body.name
    )
    return _signed_in(signed_in)


@router.post("/login", response_model=SignedIn, responses=errors(401))
async def login(body: LoginBody, platform: PlatformDep) -> SignedIn:
    return _signed_in(await platform.accounts.login(body.email, body.password))


@router.post("/refresh", response_model=Refreshed, responses=errors(401))
async def refresh(
    request: Request, platform: PlatformDep, body: RefreshBody | None = None
) -> Refreshed:
    token = bearer_token(request) or (body.refresh_token if body else None)
    if not token:
        raise CredentialsMissing("send the refresh token as 'Authorization: Bearer <token>'")
    tokens = await platform.accounts.refresh(token)
    return Refreshed(
        token=tokens.access_token, expires_in=tokens.expires_in, refresh_token=tokens.refresh_token
    )


@router.get("/me", response_model=Profile, responses=errors(404))
async def me(platform: PlatformDep, principal: PrincipalDep) -> Profile:
    return Profile(user=account_user(await platform.accounts.me(principal)))


@router.put("/me", response_model=Profile, responses=errors(404))
async def update_me(body: ProfileBody, platform: PlatformDep, principal: PrincipalDep) -> Profile:
    name = body.name if body.name is not None else body.fullName
    changes = {"name": name} if name is not None else {}
    return Profile(user=account_user(await platform.accounts.update_me(principal, changes)))


@router.post("/change-password", response_model=Message, responses=errors(404))
async def change_password(
    body: ChangePasswordBody, platform: PlatformDep, principal: PrincipalDep
) -> Message:
    await platform.accounts.change_password(principal, body.current_password, body.new_password)
    return Message(message="Password changed successfully")


@router.get("/validate", response_model=Validated, responses={401: {"model": NotValid}})
async def validate(request: Request, platform: PlatformDep) -> Validated | JSONResponse:
    try:
        principal = await optional_principal(request)
    except Unauthorized:
        principal = None
    if principal is None:
        # documented as a bare `{"valid": false}`, not the error envelope
        return JSONResponse(NotValid().model_dump(), status_code=401)
    who = await platform.accounts.identify(principal)
    return Validated(
        valid=True,
        user=ValidatedUser(id=who.number, email=who.email, name=who.name, roles=list(who.roles)),
    )
