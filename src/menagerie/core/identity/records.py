"""What sign-in and user administration share: the `Account` value, and the row helpers.

Passwords are argon2id hashes (`passwords.py`), computed off the event loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.errors import Conflict, NotFound
from menagerie.core.identity.fields import placeholder_email
from menagerie.core.identity.models import ADMIN, Principal, TokenPair
from menagerie.core.identity.numbers import user_number
from menagerie.core.identity.passwords import MAX_LENGTH, hash_password, verify_password
from menagerie.core.identity.tables import UserRow

USER = "user"  # the role every signed-up account has


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    tenant_id: str
    email: str  # the account's address, or its placeholder when it has none (fields.py)
    name: str
    roles: tuple[str, ...]
    is_active: bool
    created_at: datetime
    last_login: datetime | None  # None: never signed in with a password
    has_email: bool = True  # False when `email` is the placeholder
    number: int = 0  # the integer id (numbers.py), for APIs that number their users

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


def account_of(row: UserRow) -> Account:
    return Account(
        row.id,
        row.tenant_id,
        row.email or placeholder_email(row.id),
        row.name,
        tuple(row.roles or ()),
        bool(row.is_active),
        row.created_at,
        row.last_login,
        has_email=row.email is not None,
        number=row.number or user_number(row.id),
    )


def principal_of(row: UserRow, via: str) -> Principal:
    return Principal(row.tenant_id, row.id, frozenset(row.roles or ()), via=via)


async def hash_async(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def verify_async(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    if len(password) > MAX_LENGTH:
        # longer than any password we ever accepted: it cannot match, and must not cost more
        await asyncio.to_thread(verify_password, password[:MAX_LENGTH], None)
        return False, None
    return await asyncio.to_thread(verify_password, password, password_hash)


async def user_row(session: AsyncSession, principal: Principal, user_id: str) -> UserRow:
    """The user, in the caller's tenant: another tenant's users do not exist (404)."""
    row = await session.get(UserRow, user_id)
    if row is None or row.tenant_id != principal.tenant_id:
        raise NotFound("no such user", reason="USER_NOT_FOUND")
    return row


async def user_id_of(session: AsyncSession, principal: Principal, user: str | int) -> str:
    """A user named by id or by number, in the caller's tenant (404 when it is not there)."""
    if isinstance(user, str):
        return user
    found = await session.scalar(
        select(UserRow.id).where(UserRow.number == user, UserRow.tenant_id == principal.tenant_id)
    )
    if found is None:
        raise NotFound("no such user", reason="USER_NOT_FOUND")
    return found


async def email_taken(session: AsyncSession, tenant_id: str, email: str) -> bool:
    found = await session.scalar(
        select(UserRow.id).where(UserRow.tenant_id == tenant_id, UserRow.email == email)
    )
    return found is not None


def user_exists() -> Conflict:
    return Conflict("a user with this email already exists", reason="USER_EXISTS")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a credential names, for "validate my token": also the master key and dev mode,
    which have no account row."""

    id: str
    email: str
    name: str
    roles: tuple[str, ...]

    @property
    def number(self) -> int:
        return user_number(self.id)
