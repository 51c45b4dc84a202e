"""OAuth connections: the authorization-code flow with PKCE (S256), tokens sealed at rest.

1. `authorization_url` makes a random state and a PKCE code verifier, keeps them server-side
   (the state only as a hash, the verifier sealed), bound to the tenant and the redirect URI,
   valid for the provider's `state_ttl_s`.
2. `complete` spends the state once (unknown, spent, expired or another tenant's state is
   `INVALID_STATE`), exchanges the code at the provider's token endpoint with the verifier and
   the same redirect URI, and stores the tokens sealed with the SecretBox.
3. `disconnect`, `status` (with history) and `access_token` (refreshing an expired token) for
   the rest of the program. No value this service returns to a caller ever holds a token,
   except `access_token`, which is for code that calls the provider on the tenant's behalf.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import delete, select, update

from menagerie.core.clock import utcnow
from menagerie.core.crypto import SecretBox
from menagerie.core.errors import Invalid, MenagerieError, NotFound, Unavailable
from menagerie.core.identity.models import Principal
from menagerie.core.identity.oauth.client import TIMEOUT_S, Refused, TokenEndpoint, clip
from menagerie.core.identity.oauth.models import (
    AuthorizationRequest,
    Connection,
    ConnectionEvent,
    ConnectionStatus,
)
from menagerie.core.identity.oauth.providers import OAuthProvider
from menagerie.core.identity.oauth.redirects import RedirectPolicy, check_url
from menagerie.core.identity.oauth.tables import OAuthConnectionRow, OAuthEventRow, OAuthStateRow
from menagerie.core.ids import new_id
from menagerie.storage.database import Database

STATE_KEPT_AFTER_EXPIRY = timedelta(hours=1)  # then a stale state row is deleted
REFRESH_LEEWAY = timedelta(seconds=60)  # refresh a token this long before it expires
HISTORY_LIMIT = 50
MAX_STATE_CHARS = 512
MAX_CODE_CHARS = 2048
TOKEN_FIELDS = ("access_token", "refresh_token", "token_type", "id_token", "installation_id")
ACTIVE = "active"


@dataclass(frozen=True, slots=True)
class _Pending:
    """A spent state: what the code exchange needs."""

    tenant_id: str
    code_verifier: str
    redirect_uri: str
    scopes: tuple[str, ...]


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _invalid_state() -> Invalid:
    # one answer for unknown, spent, expired and foreign states: no oracle for probing
    return Invalid("Invalid or expired state", reason="INVALID_STATE", field="state")


def _scopes(value: Any, requested: tuple[str, ...]) -> tuple[str, ...]:
    """Scopes the provider granted (space- or comma-separated, or a list), else those asked."""
    if isinstance(value, str) and value.strip():
        return tuple(s for s in value.replace(",", " ").split() if s)
    if isinstance(value, list | tuple) and value:
        return tuple(str(s) for s in value)
    return requested


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


class OAuthService:
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

    # -- 1. the authorization URL ----------------------------------------------------------------

    async def authorization_url(
        self,
        principal: Principal,
        provider: str,
        *,
        redirect_uri: str | None = None,
        default_redirect_uri: str | None = None,
    ) -> AuthorizationRequest:
        """Where to send the user; `redirect_uri` (the caller's) wins over the configured one,
        which wins over `default_redirect_uri` (this server's own callback)."""
        config = self._configured(provider)
        assert config.client_id is not None
        target = redirect_uri or config.redirect_uri or default_redirect_uri
        if not target:
            raise Unavailable(
                f"{config.title} OAuth has no redirect URI "
                f"(MENAGERIE_{config.name.upper()}_REDIRECT_URI)",
                reason=f"{config.name.upper()}_NOT_CONFIGURED",
                service=config.name,
            )
        if redirect_uri:
            # the provider sends the authorization code there: ours, or an allowed origin
            self._redirects(config).check(
                redirect_uri,
                field="redirect_uri",
                own=(config.redirect_uri, default_redirect_uri),
            )
        else:
            check_url(target, field="redirect_uri")
        state = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters; RFC 7636 asks for 43 to 128
        url = prepare_grant_uri(
            config.authorize_url,
            client_id=config.client_id,
            response_type="code",
            redirect_uri=target,
            scope=list(config.scopes) or None,
            state=state,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
        )
        now = utcnow()
        async with self._db.session() as session:
            # states nobody came back for are kept a while (for a clear INVALID_STATE), then go
            await session.execute(
                delete(OAuthStateRow).where(
                    OAuthStateRow.expires_at < now - STATE_KEPT_AFTER_EXPIRY
                )
            )
            session.add(
                OAuthStateRow(
                    id=new_id("ost"),
                    tenant_id=principal.tenant_id,
                    provider=config.name,
                    state_hash=_digest(state),
                    code_verifier=self._box.seal(verifier),
                    redirect_uri=target,
                    scopes=list(config.scopes),
                    created_at=now,
                    expires_at=now + timedelta(seconds=config.state_ttl_s),
                )
            )
        return AuthorizationRequest(url, state, config.state_ttl_s, config.scopes, target)

    # -- 2. the callback ---------------------------------------------------------------------

    async def callback(
        self,
        provider: str,
        *,
        state: str | None,
        code: str | None,
        error: str | None = None,
        error_description: str | None = None,
        principal: Principal | None = None,
        success_url: str | None = None,
        own_origin: str | None = None,
    ) -> Connection:
        """The provider's redirect back: a refusal (`error`) or a code to exchange.

        `success_url`, where the browser goes next, must be on this server (`own_origin`) or
        a configured redirect origin; it is checked before the state is spent, so that a bad
        URL does not cost the attempt.
        """
        config = self.provider(provider)
        if success_url:
            self._redirects(config).check(success_url, field="success_url", own=(own_origin,))
        if error:
            await self.deny(
                provider,
                state=state,
                error=error,
                description=error_description,
                principal=principal,
            )
            raise Invalid(
                f"{config.title} authorization was refused: {error}",
                reason="AUTHORIZATION_DENIED",
                field="error",
                received=error,
            )
        return await self.complete(provider, state=state, code=code, principal=principal)

    async def complete(
        self,
        provider: str,
        *,
        state: str | None,
        code: str | None,
        principal: Principal | None = None,
    ) -> Connection:
        """Spend `state`, exchange `code`, store the connection.

        `principal` is the caller when it presented credentials; the provider's redirect
        usually carries none, and then the state alone names the tenant.
        """
        # the state first: a server never configured has issued none, and a made-up callback
        # is INVALID_STATE there as anywhere, not a 503
        config = self.provider(provider)
        if not code:
            raise Invalid("code is required", field="code", missing=True, expected="a code")
        if len(code) > MAX_CODE_CHARS:
            raise Invalid("code is too long", field="code", received=None, expected="a code")
        pending = await self._spend_state(config, state, principal)
        try:
            config = self._configured(provider)  # its client registration may have gone since
            token = await self._exchange(config, pending, code)
        except MenagerieError as exc:
            await self._record(pending.tenant_id, config.name, "failed", None, exc.message)
            raise
        return await self._store(config, pending, token)

    async def deny(
        self,
        provider: str,
        *,
        state: str | None,
        error: str,
        description: str | None = None,
        principal: Principal | None = None,
    ) -> None:
        """The provider redirected back with an error (the user refused): spend the state and
        put the refusal in the tenant's history."""
        config = self.provider(provider)
        pending = await self._spend_state(config, state, principal)
        detail = f"authorization refused: {error}" + (f" ({description})" if description else "")
        await self._record(pending.tenant_id, config.name, "failed", None, detail)

    async def _spend_state(
        self, config: OAuthProvider, state: str | None, principal: Principal | None
    ) -> _Pending:
        if not state:
            raise Invalid("state is required", field="state", missing=True, expected="a state")
        if len(state) > MAX_STATE_CHARS:
            raise _invalid_state()
        now = utcnow()
        async with self._db.session() as session:
            row = await session.scalar(
                select(OAuthStateRow).where(OAuthStateRow.state_hash == _digest(state))
            )
            if (
                row is None
                or row.provider != config.name
                or row.used_at is not None
                or row.expires_at <= now
                or (principal is not None and principal.tenant_id != row.tenant_id)
            ):
                raise _invalid_state()
            spent = await session.execute(
                update(OAuthStateRow)
                .where(OAuthStateRow.id == row.id, OAuthStateRow.used_at.is_(None))
                .values(used_at=now)
            )
            if spent.rowcount != 1:  # a concurrent callback with the same state won
                raise _invalid_state()
            return _Pending(
                row.tenant_id,
                self._box.open(row.code_verifier),
                row.redirect_uri,
                tuple(row.scopes or ()),
            )

    def _endpoint(self, config: OAuthProvider) -> TokenEndpoint:
        return TokenEndpoint(config, timeout_s=self._timeout)

    async def _exchange(
        self, config: OAuthProvider, pending: _Pending, code: str
    ) -> dict[str, Any]:
        try:
            return await self._endpoint(config).exchange_code(
                code, code_verifier=pending.code_verifier, redirect_uri=pending.redirect_uri
            )
        except Refused as refused:
            text = refused.explain(config.title, "authorization code")
            if refused.error == "invalid_grant":
                # the code (or its PKCE verifier) is wrong, spent or expired: start again
                raise Invalid(
                    text, reason="INVALID_CODE", field="code", expected="a fresh code"
                ) from None
            # anything else is this server's registration, or the provider itself
            raise Unavailable(
                text, reason=f"{config.name.upper()}_TOKEN_EXCHANGE_FAILED", service=config.name
            ) from None

    def _seal(self, token: dict[str, Any]) -> str:
        return self._box.seal_json({k: token[k] for k in TOKEN_FIELDS if token.get(k) is not None})

    async def _store(
        self, config: OAuthProvider, pending: _Pending, token: dict[str, Any]
    ) -> Connection:
        now = utcnow()
        row = OAuthConnectionRow(
            id=new_id("conn"),
            tenant_id=pending.tenant_id,
            provider=config.name,
            external_user_id=clip(token.get("user_id")),
            team_id=clip(token.get("team_id")),
            scopes=list(_scopes(token.get("scope"), pending.scopes)),
            status=ACTIVE,
            tokens=self._seal(token),
            token_expires_at=_expires_at(token, now),
            created_at=now,
            updated_at=now,
        )
        async with self._db.session() as session:
            # one active connection per tenant and provider: a new one replaces the old
            previous = await session.scalars(
                select(OAuthConnectionRow).where(
                    OAuthConnectionRow.tenant_id == pending.tenant_id,
                    OAuthConnectionRow.provider == config.name,
                    OAuthConnectionRow.status == ACTIVE,
                )
            )
            for old in previous.all():
                old.status, old.tokens = "replaced", None
                old.updated_at = old.disconnected_at = now
                session.add(self._event_row(old, "disconnected", f"replaced by {row.id}"))
            session.add(row)
            await session.flush()
            detail = f"user {row.external_user_id or '?'}" + (
                f", team {row.team_id}" if row.team_id else ""
            )
            session.add(self._event_row(row, "connected", detail))
        return _connection(row, now)

    # -- 3. the connection afterwards --------------------------------------------------------

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

    # -- helpers -----------------------------------------------------------------------------

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
