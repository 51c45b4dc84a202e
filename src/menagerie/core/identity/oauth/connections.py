"""OAuth connections once made: their status and history, disconnecting, and the access
token (refreshed when it expires) for code that calls the provider for the tenant.

No value here returned to a caller holds a token, except `access_token`.
"""

from __future__ import annotations

import asyncio
import weakref
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from menagerie.core.clock import utcnow
from menagerie.core.crypto import SecretBox
from menagerie.core.errors import NotFound, Unavailable
from menagerie.core.identity.models import Principal
from menagerie.core.identity.oauth.client import TIMEOUT_S, Refused, TokenEndpoint, clip
from menagerie.core.identity.oauth.models import (
    Connection,
    ConnectionEvent,
    ConnectionStatus,
)
from menagerie.core.identity.oauth.providers import OAuthProvider
from menagerie.core.identity.oauth.redirects import RedirectPolicy
from menagerie.core.identity.oauth.tables import OAuthConnectionRow, OAuthEventRow
from menagerie.core.ids import new_id
from menagerie.storage.database import Database

STATE_KEPT_AFTER_EXPIRY = timedelta(hours=1)  # then a stale state row is deleted
REFRESH_LEEWAY = timedelta(seconds=60)  # refresh a token this long before it expires
HISTORY_LIMIT = 50
MAX_STATE_CHARS = 512
MAX_CODE_CHARS = 2048
TOKEN_FIELDS = ("access_token", "refresh_token", "token_type", "id_token", "installation_id")
ACTIVE = "active"


def _expires_at(token: dict[str, Any], now: datetime) -> datetime | None:
    try:
        seconds = int(token["expires_in"])
    except (KeyError, TypeError, ValueError):
        return None
    return now + timedelta(seconds=max(seconds, 0))


def _connection(row: OAuthConnectionRow, now: datetime) -> Connection:
    expires = row.token_expires_at
    return Connection(
        id=row.id,
        provider=row.provider,
        external_user_id=row.external_user_id,
        team_id=row.team_id,
        scopes=tuple(row.scopes or ()),
        status=row.status,
        token_expires_at=expires,
        token_expired=expires is not None and expires <= now,
        created_at=row.created_at,
        updated_at=row.updated_at,
        disconnected_at=row.disconnected_at,
    )


def _event(row: OAuthEventRow) -> ConnectionEvent:
    return ConnectionEvent(row.id, row.event, row.connection_id, row.detail, row.created_at)


class OAuthConnections:
    def __init__(
        self,
        database: Database,
        box: SecretBox,
        providers: dict[str, OAuthProvider],
        *,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self._db = database
        self._box = box
        self.providers = providers
        # built once: a misspelt origin in the settings stops the start, not a request
        self._policies = {name: RedirectPolicy(p.redirect_origins) for name, p in providers.items()}
        self._timeout = timeout_s
        # one refresh at a time per connection in this process: providers rotate refresh
        # tokens, and a second refresh with the spent one would fail the connection
        self._refresh_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def provider(self, name: str) -> OAuthProvider:
        try:
            return self.providers[name]
        except KeyError:
            raise NotFound(f"no OAuth provider named {name!r}") from None

    def _redirects(self, config: OAuthProvider) -> RedirectPolicy:
        return self._policies[config.name]

    def _configured(self, name: str) -> OAuthProvider:
        provider = self.provider(name)
        if not provider.configured:
            raise Unavailable(
                f"{provider.title} OAuth is not configured on this server "
                f"(MENAGERIE_{provider.name.upper()}_CLIENT_ID)",
                reason=f"{provider.name.upper()}_NOT_CONFIGURED",
                service=provider.name,
            )
        return provider

    def _endpoint(self, config: OAuthProvider) -> TokenEndpoint:
        return TokenEndpoint(config, timeout_s=self._timeout)

    def _seal(self, token: dict[str, Any]) -> str:
        return self._box.seal_json({k: token[k] for k in TOKEN_FIELDS if token.get(k) is not None})

    async def disconnect(
        self, principal: Principal, provider: str, connection_id: str | None = None
    ) -> datetime:
        """End the tenant's active connection (or the one named) and forget its tokens."""
        config = self.provider(provider)
        now = utcnow()
        async with self._db.session() as session:
            query = select(OAuthConnectionRow).where(
                OAuthConnectionRow.tenant_id == principal.tenant_id,
                OAuthConnectionRow.provider == config.name,
                OAuthConnectionRow.status == ACTIVE,
            )
            if connection_id is not None:
                query = query.where(OAuthConnectionRow.id == connection_id)
            rows = (await session.scalars(query)).all()
            if not rows:
                if connection_id is not None:
                    raise NotFound(f"no active {config.title} connection {connection_id!r}")
                raise self._no_connection(config)
            for row in rows:
                row.status, row.tokens = "disconnected", None
                row.updated_at = row.disconnected_at = now
                session.add(self._event_row(row, "disconnected", "disconnected by the owner"))
        return now

    async def status(self, principal: Principal, provider: str) -> ConnectionStatus:
        config = self.provider(provider)
        now = utcnow()
        async with self._db.session() as session:
            rows = (
                await session.scalars(
                    select(OAuthConnectionRow)
                    .where(
                        OAuthConnectionRow.tenant_id == principal.tenant_id,
                        OAuthConnectionRow.provider == config.name,
                    )
                    .order_by(OAuthConnectionRow.created_at.desc())
                    .limit(HISTORY_LIMIT)
                )
            ).all()
            events = (
                await session.scalars(
                    select(OAuthEventRow)
                    .where(
                        OAuthEventRow.tenant_id == principal.tenant_id,
                        OAuthEventRow.provider == config.name,
                    )
                    .order_by(OAuthEventRow.created_at.desc())
                    .limit(HISTORY_LIMIT)
                )
            ).all()
        history = tuple(_connection(row, now) for row in rows)
        active = next((c for c in history if c.status == ACTIVE), None)
        return ConnectionStatus(active, history, tuple(_event(e) for e in events))

    async def access_token(self, principal: Principal, provider: str) -> str:
        """The tenant's current access token, refreshed first when it has expired.

        For code that calls the provider on the tenant's behalf; never for a response.
        """
        config = self.provider(provider)
        row = await self._active_row(principal, config)
        if not self._needs_refresh(row):
            return str(self._box.open_json(row.tokens or "")["access_token"])
        lock = self._refresh_locks.setdefault(row.id, asyncio.Lock())
        async with lock:
            row = await self._active_row(principal, config)  # another caller may have refreshed
            tokens = self._box.open_json(row.tokens or "")
            if not self._needs_refresh(row):
                return str(tokens["access_token"])
            if not tokens.get("refresh_token"):
                raise self._no_connection(config, expired=True)
            return await self._refresh(config, row, tokens["refresh_token"])

    async def _refresh(self, config: OAuthProvider, row: OAuthConnectionRow, refresh: str) -> str:
        try:
            token = await self._endpoint(config).refresh(refresh)
        except Refused as refused:
            # the provider refuses the refresh token: this connection is over
            await self._finish(row.id, "expired", refused.explain(config.title, "refresh token"))
            raise self._no_connection(config, expired=True) from None
        except Unavailable as error:
            await self._record(row.tenant_id, config.name, "failed", row.id, error.message)
            raise
        now = utcnow()
        async with self._db.session() as session:
            await session.execute(
                update(OAuthConnectionRow)
                .where(OAuthConnectionRow.id == row.id)
                .values(
                    tokens=self._seal(token),
                    token_expires_at=_expires_at(token, now),
                    updated_at=now,
                )
            )
            session.add(self._event_row(row, "refreshed", None))
        return str(token["access_token"])

    async def _active_row(self, principal: Principal, config: OAuthProvider) -> OAuthConnectionRow:
        async with self._db.session() as session:
            row = await session.scalar(
                select(OAuthConnectionRow)
                .where(
                    OAuthConnectionRow.tenant_id == principal.tenant_id,
                    OAuthConnectionRow.provider == config.name,
                    OAuthConnectionRow.status == ACTIVE,
                )
                .order_by(OAuthConnectionRow.created_at.desc())
                .limit(1)
            )
        if row is None or not row.tokens:
            raise self._no_connection(config)
        return row

    @staticmethod
    def _needs_refresh(row: OAuthConnectionRow) -> bool:
        expires = row.token_expires_at
        return expires is not None and expires - REFRESH_LEEWAY <= utcnow()

    @staticmethod
    def _no_connection(config: OAuthProvider, *, expired: bool = False) -> NotFound:
        reason = (
            f"The {config.title} connection has expired. Please connect your {config.title} "
            "account again."
            if expired
            else f"No active {config.title} connection. Please connect your {config.title} "
            "account first."
        )
        return NotFound(reason, reason=f"NO_{config.name.upper()}_CONNECTION")

    async def _finish(self, connection_id: str, status: str, detail: str) -> None:
        now = utcnow()
        async with self._db.session() as session:
            row = await session.get(OAuthConnectionRow, connection_id)
            if row is None:
                return
            row.status, row.tokens = status, None
            row.updated_at = row.disconnected_at = now
            session.add(self._event_row(row, "failed", detail))

    async def _record(
        self,
        tenant_id: str,
        provider: str,
        event: str,
        connection_id: str | None,
        detail: str | None,
    ) -> None:
        async with self._db.session() as session:
            session.add(
                OAuthEventRow(
                    id=new_id("oev"),
                    tenant_id=tenant_id,
                    provider=provider,
                    connection_id=connection_id,
                    event=event,
                    detail=clip(detail, 500),
                    created_at=utcnow(),
                )
            )

    @staticmethod
    def _event_row(row: OAuthConnectionRow, event: str, detail: str | None) -> OAuthEventRow:
        return OAuthEventRow(
            id=new_id("oev"),
            tenant_id=row.tenant_id,
            provider=row.provider,
            connection_id=row.id,
            event=event,
            detail=clip(detail, 500),
            created_at=utcnow(),
        )
