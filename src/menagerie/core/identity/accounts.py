"""Accounts: sign-up, password sign-in, one's own profile and password.

A sign-in opens a session (`sessions.py`): a JWT access token naming it and a rotating refresh
token, or a browser cookie. What a caller may change about themself is an allow-list: a
profile update touches the name only. User administration (an admin managing the tenant's
users) is `users.py`, reached as `AccountService.users`.

Decisions worth knowing:

- A password change revokes *every* session of the user, the one that asked included: whoever
  holds a copy of any token is out, and the client signs in again with the new password. API
  tokens are separate, deliberately issued credentials and stay valid.
- A failed sign-in never says which part was wrong, and costs one password verification
  whether the account exists or not.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from menagerie.core.clock import utcnow
from menagerie.core.errors import Invalid, Unauthorized
from menagerie.core.identity.fields import clean_name, normalise_email, placeholder_email
from menagerie.core.identity.models import Principal, TokenPair
from menagerie.core.identity.passwords import check_strength
from menagerie.core.identity.records import (
    USER,
    Account,
    CookieSignIn,
    Identity,
    SignIn,
    account_of,
    email_taken,
    hash_async,
    principal_of,
    user_exists,
    user_row,
    verify_async,
)
from menagerie.core.identity.sessions import SessionService
from menagerie.core.identity.tables import TenantRow, UserRow
from menagerie.core.identity.users import UserAdministration
from menagerie.core.ids import new_id
from menagerie.storage.database import Database

__all__ = ["Account", "AccountService", "CookieSignIn", "Identity", "SignIn"]

SELF_FIELDS = frozenset({"name"})  # what a profile update may change; the rest is ignored


def _invalid_credentials() -> Unauthorized:
    return Unauthorized("invalid email or password", reason="INVALID_CREDENTIALS")


class AccountService:
    def __init__(
        self, database: Database, sessions: SessionService, *, default_tenant: str = "default"
    ) -> None:
        self._db = database
        self.sessions = sessions
        self.default_tenant = default_tenant
        self.users = UserAdministration(database, sessions)

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
        password_hash = await hash_async(password)
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
                if await email_taken(session, self.default_tenant, address):
                    raise user_exists()
                session.add(row)
        except IntegrityError:  # a registration racing ours won
            raise user_exists() from None
        tokens = await self.sessions.open(principal_of(row, "password"), "password")
        return SignIn(tokens, account_of(row))

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
        matches, new_hash = await verify_async(secret, row.password_hash if row else None)
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
        tokens = await self.sessions.open(principal_of(row, "password"), "password")
        return SignIn(tokens, account_of(row))

    async def login_cookie(
        self, email: object, password: object, *, tenant_id: str | None = None
    ) -> CookieSignIn:
        """A browser sign-in: a session cookie instead of tokens."""
        row = await self._check_credentials(email, password, tenant_id)
        cookie, info = await self.sessions.open_cookie(principal_of(row, "cookie"))
        max_age = int((info.expires_at - info.created_at).total_seconds())
        return CookieSignIn(cookie, max_age, account_of(row))

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
            row = await user_row(session, principal, principal.user_id)
        return account_of(row)

    async def identify(self, principal: Principal) -> Identity:
        """Who the credential names; the master key and dev mode, which have no account,
        are described by their principal."""
        async with self._db.session() as session:
            row = await session.get(UserRow, principal.user_id)
        if row is None or row.tenant_id != principal.tenant_id:
            email, name = placeholder_email(principal.user_id), principal.user_id
        else:
            account = account_of(row)
            email, name = account.email, account.name
        return Identity(principal.user_id, email, name, tuple(sorted(principal.roles)))

    async def update_me(self, principal: Principal, changes: Mapping[str, Any]) -> Account:
        """Change one's own profile; only `name` is taken, everything else is ignored."""
        allowed = {k: v for k, v in changes.items() if k in SELF_FIELDS}
        async with self._db.session() as session:
            row = await user_row(session, principal, principal.user_id)
            if "name" in allowed:
                row.name = clean_name(allowed["name"])
        return account_of(row)

    async def change_password(self, principal: Principal, current: object, new: object) -> int:
        """Replace the password; every session of the user ends. Returns how many ended."""
        async with self._db.session() as session:
            row = await user_row(session, principal, principal.user_id)
        matches, _ = await verify_async(
            current if isinstance(current, str) else "", row.password_hash
        )
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
        new_hash = await hash_async(new)
        async with self._db.session() as session:
            await session.execute(
                update(UserRow).where(UserRow.id == row.id).values(password_hash=new_hash)
            )
        return await self.sessions.revoke_user(row.id, "password_changed")

    async def _ensure_tenant(self, tenant_id: str) -> None:
        async with self._db.session() as session:
            if await session.get(TenantRow, tenant_id) is not None:
                return
        # created meanwhile by another request: just as good
        with contextlib.suppress(IntegrityError):
            async with self._db.session() as session:
                session.add(TenantRow(id=tenant_id, name=tenant_id))
