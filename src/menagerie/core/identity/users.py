"""User administration: an admin lists, adds, changes and removes the users of its tenant.

What a caller may change is an allow-list: roles, activation and passwords change through an
admin alone; a user may change the name and email of their own entry.

Decisions worth knowing:

- Users of another tenant do not exist for a caller (404). A non-admin asking about anyone but
  themselves is refused (403) whether that user exists or not.
- A user is named by its id or by its number (numbers.py); a number is looked up in the
  caller's tenant first, so a non-admin learns nothing of the numbers that are not theirs.
- Changes that could leave a tenant without an active admin first touch the tenant row, which
  serialises them (a row lock on PostgreSQL, the write lock on SQLite); then the last admin is
  counted inside the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.clock import utcnow
from menagerie.core.errors import Conflict, Invalid
from menagerie.core.identity.fields import (
    clean_name,
    clean_roles,
    is_placeholder,
    normalise_email,
    require_admin,
)
from menagerie.core.identity.models import ADMIN, Principal
from menagerie.core.identity.numbers import user_number
from menagerie.core.identity.passwords import check_strength
from menagerie.core.identity.records import (
    USER,
    Account,
    account_of,
    email_taken,
    hash_async,
    user_exists,
    user_id_of,
    user_row,
)
from menagerie.core.identity.sessions import SessionService
from menagerie.core.identity.tables import TenantRow, UserRow
from menagerie.core.ids import new_id
from menagerie.storage.database import Database

SELF_FIELDS = frozenset({"name", "email"})  # a user on their own entry
ADMIN_FIELDS = frozenset({"name", "email", "roles", "is_active", "password"})


class UserAdministration:
    def __init__(self, database: Database, sessions: SessionService) -> None:
        self._db = database
        self.sessions = sessions

    async def list(
        self, principal: Principal, *, limit: int = 50, offset: int = 0
    ) -> list[Account]:
        require_admin(principal)
        async with self._db.session() as session:
            rows = await session.scalars(
                select(UserRow)
                .where(UserRow.tenant_id == principal.tenant_id)
                .order_by(UserRow.created_at, UserRow.id)
                .limit(max(1, min(limit, 1000)))
                .offset(max(0, offset))
            )
            return [account_of(row) for row in rows]

    async def create(
        self,
        principal: Principal,
        *,
        email: object,
        name: object,
        password: object = None,
        roles: object = None,
        is_active: bool = True,
    ) -> Account:
        """An admin adds a user to their tenant; without a password it cannot sign in yet."""
        require_admin(principal)
        address = normalise_email(email)
        display = clean_name(name, field="username")
        role_list = clean_roles(roles) if roles is not None else [USER]
        password_hash = None
        if password is not None:
            if not isinstance(password, str):
                raise Invalid("password must be a string", field="password", expected="a string")
            check_strength(password)
            password_hash = await hash_async(password)
        row = UserRow(
            id=new_id("usr"),
            tenant_id=principal.tenant_id,
            email=address,
            name=display,
            password_hash=password_hash,
            roles=role_list,
            is_active=bool(is_active),
            created_at=utcnow(),
        )
        try:
            async with self._db.session() as session:
                if await email_taken(session, principal.tenant_id, address):
                    raise user_exists()
                session.add(row)
        except IntegrityError:
            raise user_exists() from None
        return account_of(row)

    async def get(self, principal: Principal, user: str | int) -> Account:
        user_id = await self._resolve(principal, user)
        async with self._db.session() as session:
            return account_of(await user_row(session, principal, user_id))

    async def _resolve(self, principal: Principal, user: str | int) -> str:
        """The id of the user a caller names, after checking the caller may name them."""
        if isinstance(user, int) and not principal.is_admin:
            if user != user_number(principal.user_id):
                require_admin(principal)
            return principal.user_id
        if isinstance(user, int):
            async with self._db.session() as session:
                return await user_id_of(session, principal, user)
        _self_or_admin(principal, user)
        return user

    async def update(
        self, principal: Principal, user: str | int, changes: Mapping[str, Any]
    ) -> Account:
        """An admin changes anyone in their tenant; a user changes their own name and email.

        Fields outside the caller's allow-list are ignored, not refused; an account's own
        placeholder address sent back (a client echoing the entry) changes nothing.
        """
        user_id = await self._resolve(principal, user)
        fields = ADMIN_FIELDS if principal.is_admin else SELF_FIELDS
        allowed = {k: v for k, v in changes.items() if k in fields}
        if is_placeholder(allowed.get("email"), user_id):
            del allowed["email"]
        values: dict[str, Any] = {}
        if "name" in allowed:
            values["name"] = clean_name(allowed["name"], field="username")
        if "email" in allowed:
            values["email"] = normalise_email(allowed["email"])
        if "roles" in allowed:
            values["roles"] = clean_roles(allowed["roles"])
        if "is_active" in allowed:
            if not isinstance(allowed["is_active"], bool):
                raise Invalid(
                    "is_active must be true or false",
                    field="is_active",
                    received=str(allowed["is_active"])[:20],
                    expected="a boolean",
                )
            values["is_active"] = allowed["is_active"]
        if allowed.get("password") is not None:
            password = allowed["password"]
            if not isinstance(password, str):
                raise Invalid("password must be a string", field="password", expected="a string")
            check_strength(password)
            values["password_hash"] = await hash_async(password)
        demotes = "roles" in values or values.get("is_active") is False
        try:
            async with self._db.session() as session:
                if demotes:
                    await _lock_tenant(session, principal.tenant_id)
                row = await user_row(session, principal, user_id)
                was_admin = row.is_active and ADMIN in (row.roles or ())
                new_email = values.get("email")
                if new_email not in (None, row.email) and await email_taken(
                    session, row.tenant_id, new_email
                ):
                    raise user_exists()
                for key, value in values.items():
                    setattr(row, key, value)
                await session.flush()
                if demotes and was_admin and not (row.is_active and ADMIN in row.roles):
                    await _refuse_if_no_admin_left(session, row.tenant_id)
                account = account_of(row)
        except IntegrityError:
            raise user_exists() from None
        if values.get("is_active") is False or "password_hash" in values:
            await self.sessions.revoke_user(user_id, "account_changed_by_admin")
        return account

    async def delete(self, principal: Principal, user: str | int) -> None:
        require_admin(principal)
        user_id = await self._resolve(principal, user)
        if user_id == principal.user_id:
            raise Conflict(
                "you cannot delete your own account; ask another admin", reason="CANNOT_DELETE_SELF"
            )
        try:
            async with self._db.session() as session:
                await _lock_tenant(session, principal.tenant_id)
                row = await user_row(session, principal, user_id)
                await session.execute(delete(UserRow).where(UserRow.id == row.id))
                if row.is_active and ADMIN in (row.roles or ()):
                    await _refuse_if_no_admin_left(session, row.tenant_id)
        except IntegrityError:  # something that cannot go with the user still names it
            raise Conflict(
                "this user still owns records that prevent deleting it; deactivate it instead",
                reason="USER_IN_USE",
            ) from None


def _self_or_admin(principal: Principal, user_id: str) -> None:
    if user_id != principal.user_id:
        require_admin(principal)


async def _lock_tenant(session: AsyncSession, tenant_id: str) -> None:
    # a write that changes nothing: PostgreSQL locks the row, SQLite takes its write lock,
    # so two admins demoting each other cannot both pass the last-admin check
    await session.execute(
        update(TenantRow).where(TenantRow.id == tenant_id).values(name=TenantRow.name)
    )


async def _refuse_if_no_admin_left(session: AsyncSession, tenant_id: str) -> None:
    rows = await session.execute(
        select(UserRow.roles).where(UserRow.tenant_id == tenant_id, UserRow.is_active)
    )
    if not any(ADMIN in (roles or ()) for (roles,) in rows):
        raise Conflict("this would leave the tenant without an active admin", reason="LAST_ADMIN")
