"""API tokens (`podplay_api_…`): issued, listed and revoked by a tenant's admins or the operator.

A token's plaintext exists once, in what `create` returns; the database keeps its SHA-256 and
a short prefix, which is all a listing ever shows. The operator's calls (the `menagerie
tokens` command) act on any tenant and create the tenant and an admin for it when missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from menagerie.core.clock import utcnow
from menagerie.core.errors import Invalid, NotFound
from menagerie.core.identity.fields import require_admin
from menagerie.core.identity.models import ADMIN, IssuedToken, Principal
from menagerie.core.identity.service import IdentityService
from menagerie.core.identity.tables import ApiTokenRow, TenantRow, UserRow
from menagerie.core.ids import new_id
from menagerie.storage.database import Database

MAX_NAME = 200
_TENANT_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True, slots=True)
class ApiTokenInfo:
    """A token as listings show it: never the token itself."""

    id: str
    name: str
    prefix: str
    tenant_id: str
    user_id: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _info(row: ApiTokenRow) -> ApiTokenInfo:
    return ApiTokenInfo(
        row.id,
        row.name,
        row.prefix,
        row.tenant_id,
        row.user_id,
        row.created_at,
        row.last_used_at,
        row.revoked_at,
    )


def _clean_name(name: object) -> str:
    text = name.strip() if isinstance(name, str) else ""
    if not text or len(text) > MAX_NAME or any(ord(c) < 32 for c in text):
        raise Invalid(
            f"name must be 1 to {MAX_NAME} printable characters",
            field="name",
            received=name[:100] if isinstance(name, str) else "<not a string>",
            expected="a short label such as 'ci deploys'",
        )
    return text


def check_tenant_id(tenant_id: str) -> str:
    if not tenant_id or len(tenant_id) > 64 or not set(tenant_id) <= _TENANT_ID_CHARS:
        raise Invalid(
            "tenant must be 1 to 64 lower-case letters, digits, '-' or '_'",
            field="tenant",
            received=tenant_id[:100],
            expected="a tenant id such as 'acme'",
        )
    return tenant_id


class ApiTokenService:
    def __init__(self, database: Database, identity: IdentityService) -> None:
        self._db = database
        self._identity = identity

    # -- a tenant's admins --------------------------------------------------------------------

    async def create(self, principal: Principal, name: object) -> IssuedToken:
        """A new token acting as the caller (or, for the master key, the tenant's admin)."""
        require_admin(principal)
        label = _clean_name(name)
        owner = await self._owner(principal)
        return await self._identity.create_api_token(owner, label)

    async def list(self, principal: Principal) -> list[ApiTokenInfo]:
        require_admin(principal)
        return await self._list(principal.tenant_id)

    async def get(self, principal: Principal, token_id: str) -> ApiTokenInfo:
        require_admin(principal)
        async with self._db.session() as session:
            row = await session.get(ApiTokenRow, token_id)
        if row is None or row.tenant_id != principal.tenant_id:
            raise NotFound("no such API token")
        return _info(row)

    async def revoke(self, principal: Principal, token_id: str) -> ApiTokenInfo:
        """Revoke a token of the caller's tenant; revoking it again changes nothing."""
        require_admin(principal)
        return await self._revoke(token_id, principal.tenant_id)

    async def _owner(self, principal: Principal) -> Principal:
        async with self._db.session() as session:
            row = await session.get(UserRow, principal.user_id)
        if row is not None and row.tenant_id == principal.tenant_id:
            return principal
        # the master key and dev mode have no user row: their tokens belong to the tenant admin
        user_id = await self._ensure_admin(principal.tenant_id)
        return Principal(principal.tenant_id, user_id, frozenset({ADMIN}))

    # -- the operator -------------------------------------------------------------------------

    async def issue_for_tenant(self, tenant_id: str, name: object) -> IssuedToken:
        """A token for a tenant's admin, creating the tenant and its admin when missing."""
        label = _clean_name(name)
        tenant = check_tenant_id(tenant_id)
        user_id = await self._ensure_admin(tenant)
        owner = Principal(tenant, user_id, frozenset({ADMIN}))
        return await self._identity.create_api_token(owner, label)

    async def list_all(self, tenant_id: str | None = None) -> list[ApiTokenInfo]:
        return await self._list(tenant_id)

    async def revoke_any(self, token_id: str) -> ApiTokenInfo:
        return await self._revoke(token_id, None)

    # -- shared -------------------------------------------------------------------------------

    async def _list(self, tenant_id: str | None) -> list[ApiTokenInfo]:
        query = select(ApiTokenRow).order_by(ApiTokenRow.created_at, ApiTokenRow.id)
        if tenant_id is not None:
            query = query.where(ApiTokenRow.tenant_id == tenant_id)
        async with self._db.session() as session:
            return [_info(row) for row in await session.scalars(query)]

    async def _revoke(self, token_id: str, tenant_id: str | None) -> ApiTokenInfo:
        async with self._db.session() as session:
            row = await session.get(ApiTokenRow, token_id)
            if row is None or (tenant_id is not None and row.tenant_id != tenant_id):
                raise NotFound("no such API token")
            await session.execute(
                update(ApiTokenRow)
                .where(ApiTokenRow.id == token_id, ApiTokenRow.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            await session.refresh(row)
            return _info(row)

    async def _ensure_admin(self, tenant_id: str) -> str:
        """The id of the tenant's oldest active admin; the tenant and admin are made if need be."""
        for _ in range(2):  # a second pass when a concurrent caller created them first
            try:
                async with self._db.session() as session:
                    if await session.get(TenantRow, tenant_id) is None:
                        session.add(TenantRow(id=tenant_id, name=tenant_id))
                        await session.flush()
                    rows = await session.execute(
                        select(UserRow.id, UserRow.roles)
                        .where(UserRow.tenant_id == tenant_id, UserRow.is_active)
                        .order_by(UserRow.created_at, UserRow.id)
                    )
                    for user_id, roles in rows:
                        if ADMIN in (roles or ()):
                            return str(user_id)
                    admin = UserRow(
                        id=new_id("usr"),
                        tenant_id=tenant_id,
                        email=None,
                        name="admin",
                        roles=[ADMIN],
                    )
                    session.add(admin)
                return admin.id
            except IntegrityError:
                continue
        raise NotFound(f"tenant {tenant_id} could not be prepared")
