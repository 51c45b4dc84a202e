"""Crazy Gary `/api/users*`: user administration (admins), and a user's own entry.

Seed 004 "User Management Endpoints". `username` is the account's display name (Menagerie
keeps one name per user); ids are opaque strings (`usr_…`) where the seed shows integers.
Beyond the seed's fields each user carries `roles`, `is_active` and `last_login`, and an admin
may send `password`, `roles` (or one `role`) and `is_active`; from anyone else those, and
`id` or `tenant_id`, are ignored.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from menagerie.core.clock import iso
from menagerie.core.identity.accounts import Account
from menagerie.core.identity.models import Principal
from menagerie.dialects.gary.auth import validation_errors
from menagerie.http.deps import get_platform, require_principal
from menagerie.platform import Platform

router = APIRouter(prefix="/api/users", tags=["users"])
PlatformDep = Annotated[Platform, Depends(get_platform)]
PrincipalDep = Annotated[Principal, Depends(require_principal)]


class UserCreateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    username: str = Field(max_length=200)
    email: str = Field(max_length=320)
    password: str | None = None
    roles: list[Annotated[str, Field(max_length=32)]] | None = Field(None, max_length=16)
    role: str | None = Field(None, max_length=32)
    is_active: bool = True


class UserUpdateBody(BaseModel):
    # unknown fields pass through to the account service, whose allow-list ignores them
    model_config = ConfigDict(extra="allow")

    username: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)
    password: str | None = None
    roles: list[Annotated[str, Field(max_length=32)]] | None = Field(None, max_length=16)
    role: str | None = Field(None, max_length=32)
    is_active: bool | None = None


def user_entry(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "username": account.name,
        "email": account.email,
        "created_at": iso(account.created_at),
        "roles": list(account.roles),
        "is_active": account.is_active,
        "last_login": iso(account.last_login),
    }


def _roles(roles: list[str] | None, role: str | None) -> list[str] | None:
    if roles is not None:
        return roles
    return [role] if role is not None else None


@router.get("")
async def list_users(
    platform: PlatformDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    accounts = await platform.accounts.list_users(principal, limit=limit, offset=offset)
    return [user_entry(account) for account in accounts]


@router.post("", status_code=201)
async def create_user(
    body: UserCreateBody, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, Any]:
    with validation_errors():
        account = await platform.accounts.create_user(
            principal,
            email=body.email,
            name=body.username,
            password=body.password,
            roles=_roles(body.roles, body.role),
            is_active=body.is_active,
        )
    return user_entry(account)


@router.get("/{user_id}")
async def get_user(user_id: str, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    return user_entry(await platform.accounts.get_user(principal, user_id))


@router.put("/{user_id}")
async def update_user(
    user_id: str, body: UserUpdateBody, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, Any]:
    sent = body.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {k: v for k, v in sent.items() if v is not None}
    if "username" in changes:
        changes["name"] = changes.pop("username")
    changes.pop("role", None)
    roles = _roles(body.roles, body.role)
    if roles is not None:
        changes["roles"] = roles
    with validation_errors():
        account = await platform.accounts.update_user(principal, user_id, changes)
    return user_entry(account)


@router.delete("/{user_id}", status_code=204)
async def delete_user(user_id: str, platform: PlatformDep, principal: PrincipalDep) -> Response:
    await platform.accounts.delete_user(principal, user_id)
    return Response(status_code=204)
