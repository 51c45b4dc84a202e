"""Accounts: sign-up, password sign-in, profiles, password changes and user administration.

Passwords are argon2id hashes (`passwords.py`), computed off the event loop. A sign-in opens
a session (`sessions.py`): a JWT access token naming it and a rotating refresh token, or a
browser cookie. What a caller may change is an allow-list: a profile update touches the name
only, and roles, activation and passwords change through an admin alone.

Decisions worth knowing:

- A password change revokes *every* session of the user, the one that asked included: whoever
  holds a copy of any token is out, and the client signs in again with the new password. API
  tokens are separate, deliberately issued credentials and stay valid.
- A failed sign-in never says which part was wrong, and costs one password verification
  whether the account exists or not.
- Users of another tenant do not exist for a caller (404). A non-admin asking about anyone but
  themselves is refused (403 INSUFFICIENT_PERMISSIONS) whether that user exists or not.
- Changes that could leave a tenant without an active admin first touch the tenant row, which
  serialises them (a row lock on PostgreSQL, the write lock on SQLite); then the last admin is
  counted inside the same transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.clock import utcnow
from menagerie.core.errors import Conflict, Invalid, NotFound, Unauthorized
from menagerie.core.identity.fields import clean_name, clean_roles, normalise_email, require_admin
from menagerie.core.identity.models import ADMIN, Principal, TokenPair
from menagerie.core.identity.passwords import (
    MAX_LENGTH,
    check_strength,
    hash_password,
    verify_password,
)
from menagerie.core.identity.sessions import SessionService
from menagerie.core.identity.tables import TenantRow, UserRow
from menagerie.core.ids import new_id
from menagerie.storage.database import Database

USER = "user"  # the role every signed-up account has
# what each kind of caller may change; anything else in an update is ignored
SELF_FIELDS = frozenset({"name"})
SELF_ADMIN_FIELDS = frozenset({"name", "email"})  # a user on their own /users entry
ADMIN_FIELDS = frozenset({"name", "email", "roles", "is_active", "password"})


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    tenant_id: str
    email: str | None
    name: str
    roles: tuple[str, ...]
    is_active: bool
    created_at: datetime
    last_login: datetime | None

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles


@dataclass(frozen=True, slots=True)
class SignIn:
    """A successful sign-up or sign-in: the tokens (shown once) and the account."""

    tokens: TokenPair
    account: Account


@dataclass(frozen=True, slots=True)
class CookieSignIn:
    cookie: str  # the session cookie's value, shown once
    max_age: int  # seconds it lives
    account: Account


def _account(row: UserRow) -> Account:
    return Account(
        row.id,
        row.tenant_id,
        row.email,
        row.name,
        tuple(row.roles or ()),
        bool(row.is_active),
        row.created_at,
        row.last_login,
    )


def _principal(row: UserRow, via: str) -> Principal:
    return Principal(row.tenant_id, row.id, frozenset(row.roles or ()), via=via)


async def _hash(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def _verify(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    if len(password) > MAX_LENGTH:
        # longer than any password we ever accepted: it cannot match, and must not cost more
        await asyncio.to_thread(verify_password, password[:MAX_LENGTH], None)
        return False, None
    return await asyncio.to_thread(verify_password, password, password_hash)


def _invalid_credentials() -> Unauthorized:
    return Unauthorized("invalid email or password", reason="INVALID_CREDENTIALS")


class AccountService:
    def __init__(
        self, database: Database, sessions: SessionService, *, default_tenant: str = "default"
    ) -> None:
        self._db = database
        self.sessions = sessions
        self.default_tenant = default_tenant

    # -- signing up and in -------------------------------------------------------------------

    async def register(self, email: object, password: object, name: object = None) -> SignIn:
        """A new account in the default tenant, signed in at once."""
        address = normalise_email(email)
        if not isinstance(password, str):
            raise Invalid(
                "password is required", field="password", received=None, expected="a string"
            )
        display = clean_name(name) if name not in (None, "") else address.split("@", 1)[0]
        check_strength(password)
        password_hash = await _hash(password)
        now = utcnow()
        row = UserRow(
            id=new_id("usr"),
            tenant_id=self.default_tenant,
            email=address,
            name=display,
            password_hash=password_hash,
            roles=[USER],
            is_active=True,
            created_at=now,
            last_login=now,
        )
        await self._ensure_tenant(self.default_tenant)
        try:
            async with self._db.session() as session:
                if await self._email_taken(session, self.default_tenant, address):
                    raise self._user_exists()
                session.add(row)
        except IntegrityError:  # a registration racing ours won
            raise self._user_exists() from None
        tokens = await self.sessions.open(_principal(row, "password"), "password")
        return SignIn(tokens, _account(row))

    async def _check_credentials(
        self, email: object, password: object, tenant_id: str | None
    ) -> UserRow:
        tenant = tenant_id or self.default_tenant
        secret = password if isinstance(password, str) else ""
        try:
            address = normalise_email(email)
        except Invalid:
            address = None
        row = None
        if address is not None:
            async with self._db.session() as session:
                row = await session.scalar(
                    select(UserRow).where(UserRow.tenant_id == tenant, UserRow.email == address)
                )
        # one verification either way: an unknown user takes as long as a wrong password
        matches, new_hash = await _verify(secret, row.password_hash if row else None)
        if row is None or not matches or not row.is_active or not secret:
            raise _invalid_credentials()
        now = utcnow()
        values: dict[str, Any] = {"last_login": now}
        if new_hash is not None:  # stored with outdated parameters: upgrade it now
            values["password_hash"] = new_hash
        async with self._db.session() as session:
            await session.execute(update(UserRow).where(UserRow.id == row.id).values(**values))
        row.last_login = now
        return row

    async def login(
        self, email: object, password: object, *, tenant_id: str | None = None
    ) -> SignIn:
        row = await self._check_credentials(email, password, tenant_id)
        tokens = await self.sessions.open(_principal(row, "password"), "password")
        return SignIn(tokens, _account(row))

    async def login_cookie(
        self, email: object, password: object, *, tenant_id: str | None = None
    ) -> CookieSignIn:
        """A browser sign-in: a session cookie instead of tokens."""
        row = await self._check_credentials(email, password, tenant_id)
        cookie, info = await self.sessions.open_cookie(_principal(row, "cookie"))
        max_age = int((info.expires_at - info.created_at).total_seconds())
        return CookieSignIn(cookie, max_age, _account(row))

    async def refresh(self, refresh_token: str) -> TokenPair:
        return await self.sessions.refresh(refresh_token)

    async def logout(self, principal: Principal) -> bool:
        """End the session behind these credentials; False when there is none (API token)."""
        if principal.session_id is None:
            return False
        await self.sessions.revoke(principal.session_id, "logout")
        return True

    # -- one's own account --------------------------------------------------------------------

    async def me(self, principal: Principal) -> Account:
        async with self._db.session() as session:
            row = await self._row(session, principal, principal.user_id)
        return _account(row)

    async def update_me(self, principal: Principal, changes: Mapping[str, Any]) -> Account:
        """Change one's own profile; only `name` is taken, everything else is ignored."""
        allowed = {k: v for k, v in changes.items() if k in SELF_FIELDS}
        async with self._db.session() as session:
            row = await self._row(session, principal, principal.user_id)
            if "name" in allowed:
                row.name = clean_name(allowed["name"])
        return _account(row)

    async def change_password(self, principal: Principal, current: object, new: object) -> int:
        """Replace the password; every session of the user ends. Returns how many ended."""
        async with self._db.session() as session:
            row = await self._row(session, principal, principal.user_id)
        matches, _ = await _verify(current if isinstance(current, str) else "", row.password_hash)
        if not matches or not current:
            raise Invalid(
                "current password is incorrect",
                field="current_password",
                received="(hidden)",
                expected="the account's current password",
                reason="INVALID_CREDENTIALS",
            )
        if not isinstance(new, str):
            raise Invalid(
                "new_password is required", field="new_password", received=None, expected="a string"
            )
        check_strength(new, field="new_password")
        if new == current:
            raise Invalid(
                "the new password must differ from the current one",
                field="new_password",
                received="(hidden)",
                expected="a password not used now",
                reason="WEAK_PASSWORD",
            )
        new_hash = await _hash(new)
        async with self._db.session() as session:
            await session.execute(
                update(UserRow).where(UserRow.id == row.id).values(password_hash=new_hash)
            )
        return await self.sessions.revoke_user(row.id, "password_changed")

    # -- administration -----------------------------------------------------------------------

    async def list_users(
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
            return [_account(row) for row in rows]

    async def create_user(
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
            password_hash = await _hash(password)
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
                if await self._email_taken(session, principal.tenant_id, address):
                    raise self._user_exists()
                session.add(row)
        except IntegrityError:
            raise self._user_exists() from None
        return _account(row)

    async def get_user(self, principal: Principal, user_id: str) -> Account:
        self._self_or_admin(principal, user_id)
        async with self._db.session() as session:
            return _account(await self._row(session, principal, user_id))

    async def update_user(
        self, principal: Principal, user_id: str, changes: Mapping[str, Any]
    ) -> Account:
        """An admin changes anyone in their tenant; a user changes their own name and email.

        Fields outside the caller's allow-list are ignored, not refused.
        """
        self._self_or_admin(principal, user_id)
        fields = ADMIN_FIELDS if principal.is_admin else SELF_ADMIN_FIELDS
        allowed = {k: v for k, v in changes.items() if k in fields}
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
            values["password_hash"] = await _hash(password)
        demotes = "roles" in values or values.get("is_active") is False
        try:
            async with self._db.session() as session:
                if demotes:
                    await self._lock_tenant(session, principal.tenant_id)
                row = await self._row(session, principal, user_id)
                was_admin = row.is_active and ADMIN in (row.roles or ())
                new_email = values.get("email")
                if new_email not in (None, row.email) and await self._email_taken(
                    session, row.tenant_id, new_email
                ):
                    raise self._user_exists()
                for key, value in values.items():
                    setattr(row, key, value)
                await session.flush()
                if demotes and was_admin and not (row.is_active and ADMIN in row.roles):
                    await self._refuse_if_no_admin_left(session, row.tenant_id)
                account = _account(row)
        except IntegrityError:
            raise self._user_exists() from None
        if values.get("is_active") is False or "password_hash" in values:
            await self.sessions.revoke_user(user_id, "account_changed_by_admin")
        return account

    async def delete_user(self, principal: Principal, user_id: str) -> None:
        require_admin(principal)
        if user_id == principal.user_id:
            raise Conflict(
                "you cannot delete your own account; ask another admin", reason="CANNOT_DELETE_SELF"
            )
        try:
            async with self._db.session() as session:
                await self._lock_tenant(session, principal.tenant_id)
                row = await self._row(session, principal, user_id)
                await session.execute(delete(UserRow).where(UserRow.id == row.id))
                if row.is_active and ADMIN in (row.roles or ()):
                    await self._refuse_if_no_admin_left(session, row.tenant_id)
        except IntegrityError:  # something that cannot go with the user still names it
            raise Conflict(
                "this user still owns records that prevent deleting it; deactivate it instead",
                reason="USER_IN_USE",
            ) from None

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _self_or_admin(principal: Principal, user_id: str) -> None:
        if user_id != principal.user_id:
            require_admin(principal)

    @staticmethod
    async def _row(session: AsyncSession, principal: Principal, user_id: str) -> UserRow:
        row = await session.get(UserRow, user_id)
        if row is None or row.tenant_id != principal.tenant_id:
            raise NotFound("no such user", reason="USER_NOT_FOUND")
        return row

    @staticmethod
    async def _email_taken(session: AsyncSession, tenant_id: str, email: str) -> bool:
        found = await session.scalar(
            select(UserRow.id).where(UserRow.tenant_id == tenant_id, UserRow.email == email)
        )
        return found is not None

    @staticmethod
    def _user_exists() -> Conflict:
        return Conflict("a user with this email already exists", reason="USER_EXISTS")

    @staticmethod
    async def _lock_tenant(session: AsyncSession, tenant_id: str) -> None:
        # a write that changes nothing: PostgreSQL locks the row, SQLite takes its write lock,
        # so two admins demoting each other cannot both pass the last-admin check
        await session.execute(
            update(TenantRow).where(TenantRow.id == tenant_id).values(name=TenantRow.name)
        )

    @staticmethod
    async def _refuse_if_no_admin_left(session: AsyncSession, tenant_id: str) -> None:
        rows = await session.execute(
            select(UserRow.roles).where(UserRow.tenant_id == tenant_id, UserRow.is_active)
        )
        if not any(ADMIN in (roles or ()) for (roles,) in rows):
            raise Conflict(
                "this would leave the tenant without an active admin", reason="LAST_ADMIN"
            )

    async def _ensure_tenant(self, tenant_id: str) -> None:
        async with self._db.session() as session:
            if await session.get(TenantRow, tenant_id) is not None:
                return
        # created meanwhile by another request: just as good
        with contextlib.suppress(IntegrityError):
            async with self._db.session() as session:
                session.add(TenantRow(id=tenant_id, name=tenant_id))
