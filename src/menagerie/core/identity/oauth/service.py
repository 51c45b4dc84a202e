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

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import delete, select, update

from menagerie.core.clock import utcnow
from menagerie.core.errors import Invalid, MenagerieError, Unavailable
from menagerie.core.identity.models import Principal
from menagerie.core.identity.oauth.client import Refused, clip
from menagerie.core.identity.oauth.connections import (
    ACTIVE,
    MAX_CODE_CHARS,
    MAX_STATE_CHARS,
    STATE_KEPT_AFTER_EXPIRY,
    OAuthConnections,
    _connection,
    _expires_at,
)
from menagerie.core.identity.oauth.models import (
    AuthorizationRequest,
    Connection,
)
from menagerie.core.identity.oauth.providers import OAuthProvider
from menagerie.core.identity.oauth.redirects import check_url
from menagerie.core.identity.oauth.tables import OAuthConnectionRow, OAuthStateRow
from menagerie.core.ids import new_id


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


class OAuthService(OAuthConnections):
    """The authorization-code flow with PKCE; connections once made are `OAuthConnections`."""

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
