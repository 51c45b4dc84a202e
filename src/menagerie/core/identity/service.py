"""Identity service: first-start bootstrap, API tokens, and turning credentials into principals."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from menagerie.core.clock import utcnow
from menagerie.core.errors import Unauthorized
from menagerie.core.identity.jwt import JwtCodec
from menagerie.core.identity.models import (
    ADMIN,
    BootstrapResult,
    IssuedToken,
    Principal,
    SessionInfo,
    User,
)
from menagerie.core.identity.sessions import SessionService
from menagerie.core.identity.tables import ApiTokenRow, TenantRow, UserRow
from menagerie.core.ids import new_id
from menagerie.storage.database import Database

API_TOKEN_PREFIX = "podplay_api_"
ACCESS_TTL = timedelta(hours=1)
# how stale an API token's `last_used_at` may be: it is written at most once a minute
LAST_USED_PRECISION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class IdentityService:
    def __init__(
        self,
        database: Database,
        jwt: JwtCodec,
        *,
        default_tenant: str = "default",
        master_key: str | None = None,
        dev_mode: bool = False,
        sessions: SessionService | None = None,
    ) -> None:
        self._db = database
        self._jwt = jwt
        self.default_tenant = default_tenant
        self._master_key = master_key
        self.dev_mode = dev_mode
        self.sessions = sessions

    # -- bootstrap ---------------------------------------------------------------------------

    async def bootstrap(self) -> BootstrapResult:
        """On a server with no users: create the default tenant, an admin and its API token.

        Safe to call on every start and from several replicas at once: whoever creates the
        tenant row first does the work; the others see users and return.
        """
        try:
            return await self._bootstrap_once()
        except IntegrityError:
            # another replica bootstrapped between our check and our insert
            return await self._bootstrap_once()

    async def _bootstrap_once(self) -> BootstrapResult:
        async with self._db.session() as session:
            tenant = await session.get(TenantRow, self.default_tenant)
            users = await session.scalar(select(func.count()).select_from(UserRow))
            if users:
                admin = await session.scalar(
                    select(UserRow.id).where(UserRow.tenant_id == self.default_tenant).limit(1)
                )
                return BootstrapResult(self.default_tenant, admin or "", None)
            if tenant is None:
                session.add(TenantRow(id=self.default_tenant, name="Default tenant"))
                await session.flush()
            admin_row = UserRow(
                id=new_id("usr"),
                tenant_id=self.default_tenant,
                email=None,
                name="admin",
                roles=[ADMIN],
            )
            session.add(admin_row)
            await session.flush()
            issued = self._new_token_row(admin_row.tenant_id, admin_row.id, "bootstrap admin")
            session.add(issued[0])
        return BootstrapResult(self.default_tenant, admin_row.id, issued[1])

    # -- API tokens --------------------------------------------------------------------------

    def _new_token_row(
        self, tenant_id: str, user_id: str, name: str
    ) -> tuple[ApiTokenRow, IssuedToken]:
        token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = ApiTokenRow(
            id=new_id("tok"),
            tenant_id=tenant_id,
            user_id=user_id,
            name=name,
            token_hash=hash_token(token),
            prefix=token[: len(API_TOKEN_PREFIX) + 4],
        )
        return row, IssuedToken(row.id, name, token, tenant_id, user_id)

    async def create_api_token(self, principal: Principal, name: str) -> IssuedToken:
        async with self._db.session() as session:
            row, issued = self._new_token_row(principal.tenant_id, principal.user_id, name)
            session.add(row)
        return issued

    async def _principal_for_api_token(self, token: str) -> Principal:
        digest = hash_token(token)
        # one read, a plain Core statement: the token and its user (was two ORM reads and a
        # write on every request)
        async with self._db.connection() as connection:
            found = (
                await connection.execute(
                    select(
                        ApiTokenRow.id,
                        ApiTokenRow.token_hash,
                        ApiTokenRow.revoked_at,
                        ApiTokenRow.last_used_at,
                        UserRow.id,
                        UserRow.tenant_id,
                        UserRow.roles,
                        UserRow.is_active,
                    )
                    .join(UserRow, UserRow.id == ApiTokenRow.user_id, isouter=True)
                    .where(ApiTokenRow.token_hash == digest)
                )
            ).first()
            # the lookup is by hash; comparing again in constant time keeps timing flat
            if found is None or not hmac.compare_digest(found[1], digest):
                raise Unauthorized("invalid API token")
            token_id, _, revoked_at, last_used_at, user_id, tenant_id, roles, active = found
            if revoked_at is not None:
                raise Unauthorized("API token revoked")
            if user_id is None or not active:
                raise Unauthorized("invalid API token")
            now = utcnow()
            if last_used_at is None or now - _aware(last_used_at) >= LAST_USED_PRECISION:
                # a write per request would serialise every caller on SQLite's one writer
                await connection.execute(
                    update(ApiTokenRow).where(ApiTokenRow.id == token_id).values(last_used_at=now)
                )
            return Principal(tenant_id, user_id, frozenset(roles or ()), via="token")

    # -- JWTs --------------------------------------------------------------------------------

    def issue_access_token(self, principal: Principal, ttl: timedelta = ACCESS_TTL) -> str:
        return self._jwt.encode(
            principal.user_id,
            ttl=ttl,
            claims={"tid": principal.tenant_id, "roles": sorted(principal.roles), "typ": "access"},
        )

    async def _principal_for_jwt(self, token: str) -> Principal:
        claims = self._jwt.decode(token, token_type="access")
        session_id = claims.get("sid")
        if session_id is not None:
            if self.sessions is None:
                raise Unauthorized("invalid token")
            # a revoked session (logout, password change, token theft) ends its tokens now
            await self.sessions.active(str(session_id))
        async with self._db.session() as session:
            user = await session.get(UserRow, claims["sub"])
        if user is None or not user.is_active or user.tenant_id != claims.get("tid"):
            raise Unauthorized("invalid token")
        roles = frozenset(user.roles or ())
        return Principal(user.tenant_id, user.id, roles, via="jwt", session_id=session_id)

    async def open_browser_session(self, principal: Principal) -> tuple[str, SessionInfo]:
        """A cookie session for someone who proved who they are another way (an API token)."""
        if self.sessions is None:
            raise Unauthorized("session cookies are not accepted")
        return await self.sessions.open_cookie(principal)

    async def authenticate_cookie(self, cookie: str) -> Principal:
        if self.sessions is None:
            raise Unauthorized("session cookies are not accepted")
        return await self.sessions.principal_for_cookie(cookie)

    # -- credentials -> principal -------------------------------------------------------------

    def is_master_key(self, token: str) -> bool:
        if not self._master_key:
            return False
        return hmac.compare_digest(token.encode(), self._master_key.encode())

    async def authenticate_bearer(self, token: str) -> Principal:
        """A principal for a bearer credential, or `Unauthorized`."""
        if self.is_master_key(token):
            return Principal(self.default_tenant, "master", frozenset({ADMIN}), via="master_key")
        if token.startswith(API_TOKEN_PREFIX):
            return await self._principal_for_api_token(token)
        if token.count(".") == 2:
            return await self._principal_for_jwt(token)
        raise Unauthorized("unrecognised credentials")

    def dev_principal(self) -> Principal:
        """The principal of an unauthenticated request in dev mode."""
        return Principal(self.default_tenant, "dev", frozenset({ADMIN}), via="dev_mode")

    async def get_user(self, principal: Principal) -> User | None:
        async with self._db.session() as session:
            row = await session.get(UserRow, principal.user_id)
        if row is None or row.tenant_id != principal.tenant_id:
            return None
        return User(row.id, row.tenant_id, row.email, row.name, tuple(row.roles or ()))


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
