"""Signed-in sessions: access JWTs, rotating refresh tokens, browser cookies, revocation.

A session is one sign-in (a password login, a wallet sign-in, a browser cookie). Access
tokens are short-lived JWTs naming their session (`sid`), checked against it on every use, so
revoking a session ends its access tokens at once. Refresh tokens are opaque, stored hashed,
single-use and rotated: each refresh spends one and issues the next. Seeing a spent token
again means it was copied: the whole session (its family of tokens) is revoked, except within
a short grace period where the second use is two requests racing, and loses.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from menagerie.core.clock import utcnow
from menagerie.core.errors import NotFound, TokenExpired, Unauthorized
from menagerie.core.identity.jwt import JwtCodec
from menagerie.core.identity.models import Principal, SessionInfo, TokenPair
from menagerie.core.identity.tables import AuthSessionRow, RefreshTokenRow, UserRow
from menagerie.core.ids import new_id
from menagerie.storage.database import Database

REFRESH_PREFIX = "mrt_"
COOKIE_PREFIX = "mck_"
SessionCheck = Callable[[SessionInfo], Awaitable[None]]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _info(row: AuthSessionRow) -> SessionInfo:
    return SessionInfo(
        row.id,
        row.tenant_id,
        row.user_id,
        row.kind,
        dict(row.attributes or {}),
        row.created_at,
        row.expires_at,
        row.last_used_at,
        row.revoked_at,
        row.revoked_reason,
    )


class SessionService:
    def __init__(
        self,
        database: Database,
        jwt: JwtCodec,
        *,
        access_ttl_s: int = 3600,
        refresh_ttl_s: int = 7 * 86400,
        reuse_grace_s: float = 5.0,
    ) -> None:
        self._db = database
        self._jwt = jwt
        self.access_ttl = timedelta(seconds=access_ttl_s)
        self.refresh_ttl = timedelta(seconds=refresh_ttl_s)
        self.reuse_grace = timedelta(seconds=reuse_grace_s)

    # -- opening ------------------------------------------------------------------------------

    async def open(
        self, principal: Principal, kind: str, attributes: dict[str, Any] | None = None
    ) -> TokenPair:
        """Start a session for a principal who just proved who they are."""
        now = utcnow()
        row = AuthSessionRow(
            id=new_id("ses"),
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            kind=kind,
            attributes=attributes or {},
            created_at=now,
            last_used_at=now,
            expires_at=now + self.refresh_ttl,
        )
        async with self._db.session() as session:
            session.add(row)
            await session.flush()
            refresh = self._new_refresh(row.id)
            session.add(refresh[0])
        return self._pair(principal, row.id, refresh[1])

    async def open_cookie(self, principal: Principal) -> tuple[str, SessionInfo]:
        """A browser session: the cookie value (shown once) and the session."""
        cookie = COOKIE_PREFIX + secrets.token_urlsafe(32)
        now = utcnow()
        row = AuthSessionRow(
            id=new_id("ses"),
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            kind="cookie",
            attributes={},
            cookie_hash=_digest(cookie),
            created_at=now,
            last_used_at=now,
            expires_at=now + self.refresh_ttl,
        )
        async with self._db.session() as session:
            session.add(row)
        return cookie, _info(row)

    def _new_refresh(self, session_id: str) -> tuple[RefreshTokenRow, str]:
        token = REFRESH_PREFIX + secrets.token_urlsafe(32)
        now = utcnow()
        row = RefreshTokenRow(
            id=new_id("rtk"),
            session_id=session_id,
            token_hash=_digest(token),
            created_at=now,
            expires_at=now + self.refresh_ttl,
        )
        return row, token

    def _pair(self, principal: Principal, session_id: str, refresh_token: str) -> TokenPair:
        access = self._jwt.encode(
            principal.user_id,
            ttl=self.access_ttl,
            claims={
                "tid": principal.tenant_id,
                "roles": sorted(principal.roles),
                "typ": "access",
                "sid": session_id,
            },
        )
        return TokenPair(
            access,
            refresh_token,
            int(self.access_ttl.total_seconds()),
            int(self.refresh_ttl.total_seconds()),
            session_id,
        )

    # -- refreshing ---------------------------------------------------------------------------

    async def peek(self, refresh_token: str) -> SessionInfo:
        """The session a refresh token belongs to, without spending it."""
        async with self._db.session() as session:
            row = await session.scalar(
                select(AuthSessionRow)
                .join(RefreshTokenRow, RefreshTokenRow.session_id == AuthSessionRow.id)
                .where(RefreshTokenRow.token_hash == _digest(refresh_token))
            )
        if row is None:
            raise Unauthorized("invalid refresh token")
        return _info(row)

    async def refresh(self, refresh_token: str, *, check: SessionCheck | None = None) -> TokenPair:
        """Spend a refresh token for a new pair; `check` may veto (e.g. NFT still owned)."""
        if not refresh_token.startswith(REFRESH_PREFIX):
            raise Unauthorized("invalid refresh token")
        digest = _digest(refresh_token)
        now = utcnow()
        async with self._db.session() as session:
            token = await session.scalar(
                select(RefreshTokenRow).where(RefreshTokenRow.token_hash == digest)
            )
            if token is None:
                raise Unauthorized("invalid refresh token")
            row = await session.get(AuthSessionRow, token.session_id)
            assert row is not None  # the foreign key guarantees it
            if row.revoked_at is not None:
                raise Unauthorized("session has been revoked", reason="SESSION_REVOKED")
            if token.used_at is not None:
                await self._spent_token_seen(token, now)
            if token.expires_at <= now or row.expires_at <= now:
                raise TokenExpired("refresh token has expired")
            user = await session.get(UserRow, row.user_id)
            if user is None or not user.is_active:
                raise Unauthorized("the account is no longer active")
            info = _info(row)
        if check is not None:
            await check(info)
        async with self._db.session() as session:
            # spend it: of two requests racing with one token, exactly one updates a row
            spent = await session.execute(
                update(RefreshTokenRow)
                .where(RefreshTokenRow.id == token.id, RefreshTokenRow.used_at.is_(None))
                .values(used_at=now)
            )
            if spent.rowcount != 1:
                raise Unauthorized("refresh token already used", reason="REFRESH_TOKEN_REUSED")
            new_row, new_token = self._new_refresh(row.id)
            session.add(new_row)
            await session.execute(
                update(AuthSessionRow).where(AuthSessionRow.id == row.id).values(last_used_at=now)
            )
        principal = Principal(user.tenant_id, user.id, frozenset(user.roles or ()), "jwt", row.id)
        return self._pair(principal, row.id, new_token)

    async def _spent_token_seen(self, token: RefreshTokenRow, now: Any) -> None:
        assert token.used_at is not None
        if now - token.used_at > self.reuse_grace:
            await self.revoke(token.session_id, "refresh_token_reuse")
            raise Unauthorized(
                "refresh token reuse detected: the session has been revoked",
                reason="REFRESH_TOKEN_REUSED",
            )
        raise Unauthorized("refresh token already used", reason="REFRESH_TOKEN_REUSED")

    # -- checking -----------------------------------------------------------------------------

    async def active(self, session_id: str) -> SessionInfo:
        """The session, if it may still be used; `Unauthorized` otherwise."""
        async with self._db.session() as session:
            row = await session.get(AuthSessionRow, session_id)
        if row is None:
            raise Unauthorized("unknown session")
        if row.revoked_at is not None:
            raise Unauthorized("session has been revoked", reason="SESSION_REVOKED")
        if row.expires_at <= utcnow():
            raise TokenExpired("session has expired")
        return _info(row)

    async def principal_for_cookie(self, cookie: str) -> Principal:
        if not cookie.startswith(COOKIE_PREFIX):
            raise Unauthorized("invalid session cookie")
        async with self._db.session() as session:
            row = await session.scalar(
                select(AuthSessionRow).where(AuthSessionRow.cookie_hash == _digest(cookie))
            )
            if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
                raise Unauthorized("invalid or expired session cookie")
            user = await session.get(UserRow, row.user_id)
            if user is None or not user.is_active:
                raise Unauthorized("invalid or expired session cookie")
            await session.execute(
                update(AuthSessionRow)
                .where(AuthSessionRow.id == row.id)
                .values(last_used_at=utcnow())
            )
        return Principal(user.tenant_id, user.id, frozenset(user.roles or ()), "cookie", row.id)

    # -- ending -------------------------------------------------------------------------------

    async def revoke(self, session_id: str, reason: str = "logout") -> None:
        async with self._db.session() as session:
            await session.execute(
                update(AuthSessionRow)
                .where(AuthSessionRow.id == session_id, AuthSessionRow.revoked_at.is_(None))
                .values(revoked_at=utcnow(), revoked_reason=reason)
            )

    async def revoke_user(
        self, user_id: str, reason: str, *, keep_session: str | None = None
    ) -> int:
        """End every session of a user (a password change); returns how many ended."""
        query = update(AuthSessionRow).where(
            AuthSessionRow.user_id == user_id, AuthSessionRow.revoked_at.is_(None)
        )
        if keep_session is not None:
            query = query.where(AuthSessionRow.id != keep_session)
        async with self._db.session() as session:
            result = await session.execute(query.values(revoked_at=utcnow(), revoked_reason=reason))
        return result.rowcount

    async def get(self, principal: Principal, session_id: str) -> SessionInfo:
        async with self._db.session() as session:
            row = await session.get(AuthSessionRow, session_id)
        if row is None or row.tenant_id != principal.tenant_id:
            raise NotFound("no such session")
        return _info(row)
