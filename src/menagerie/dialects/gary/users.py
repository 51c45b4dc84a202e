"""Crazy Gary `/api/users*`: user administration (admins), and a user's own entry.

Seed 004 "User Management Endpoints". `username` is the account's display name (Menagerie
keeps one name per user); ids are integers as the seed shows, each user's number
(core/identity/numbers.py).
Beyond the seed's fields each user carries `roles`, `is_active` and `last_login`, and an admin
may send `password`, `roles` (or one `role`) and `is_active`; from anyone else core ignores
those. Listing, adding and deleting users are operator actions (`AdminDep`); reading and
changing an entry is open to its own user too, which core decides.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from menagerie.core.clock import iso
from menagerie.core.identity.accounts import Account
from menagerie.core.identity.numbers import BITS
from menagerie.core.paging import MAX_OFFSET
from menagerie.dialects.gary.deps import AdminDep, PlatformDep, PrincipalDep
from menagerie.dialects.gary.schemas.users import UserCreateBody, UserEntry, UserUpdateBody
from menagerie.http.openapi import errors

router = APIRouter(prefix="/api/users", tags=["users"])
UserNumber = Annotated[int, Path(ge=1, lt=2**BITS, description="the user's integer id")]


def user_entry(account: Account) -> UserEntry:
    return UserEntry(
        id=account.number,
        username=account.name,
        email=account.email,
        created_at=iso(account.created_at) or "",
        roles=list(account.roles),
        is_active=account.is_active,
        last_login=iso(account.last_login),
    )


def _roles(roles: list[str] | None, role: str | None) -> list[str] | None:
    if roles is not None:
        return roles
    return [role] if role is not None else None


@router.get("", response_model=list[UserEntry])
async def list_users(
    platform: PlatformDep,
    admin: AdminDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[UserEntry]:
    accounts = await platform.accounts.users.list(admin, limit=limit, offset=offset)
    return [user_entry(account) for account in accounts]


@router.post("", status_code=201, response_model=UserEntry, responses=errors(409))
async def create_user(body: UserCreateBody, platform: PlatformDep, admin: AdminDep) -> UserEntry:
    account = await platform.accounts.users.create(
        admin,
        email=body.email,
        name=body.username,
        password=body.password,
        roles=_roles(body.roles, body.role),
        is_active=body.is_active,
    )
    return user_entry(account)


@router.get("/{user_id}", response_model=UserEntry, responses=errors(403, 404))
async def get_user(
    user_id: UserNumber, platform: PlatformDep, principal: PrincipalDep
) -> UserEntry:
    return user_entry(await platform.accounts.users.get(principal, user_id))


@router.put("/{user_id}", response_model=UserEntry, responses=errors(403, 404, 409))
async def update_user(
    user_id: UserNumber, body: UserUpdateBody, platform: PlatformDep, principal: PrincipalDep
) -> UserEntry:
    sent = body.model_dump(exclude_unset=True, exclude={"role"})
    changes: dict[str, Any] = {k: v for k, v in sent.items() if v is not None}
    if "username" in changes:
        changes["name"] = changes.pop("username")
    roles = _roles(body.roles, body.role)
    if roles is not None:
        changes["roles"] = roles
    account = await platform.accounts.users.update(principal, user_id, changes)
    return user_entry(account)


@router.delete("/{user_id}", status_code=204, response_class=Response, responses=errors(404, 409))
async def delete_user(user_id: UserNumber, platform: PlatformDep, admin: AdminDep) -> Response:
    await platform.accounts.users.delete(admin, user_id)
    return Response(status_code=204)
