"""OAuth connections against a real local authorization server: authorization URLs with state
and PKCE S256, single-use expiring vault-bound states, the code exchange, sealed tokens,
refresh, disconnect and history, and tenants that see only their own connections."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr
from sqlalchemy import select, text, update

from menagerie.core.clock import utcnow
from menagerie.core.errors import Invalid, NotFound, Unavailable
from menagerie.core.identity.models import Principal
from menagerie.core.identity.oauth.redirects import RedirectPolicy
from menagerie.core.identity.oauth.tables import OAuthConnectionRow, OAuthStateRow
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.oauth_server import SCOPES, OAuthServer, approve, running_oauth_server

REDIRECT = "https://app.example/metamorph/api/vercel/auth/callback"
ORIGINS = ["https://app.example"]  # where REDIRECT lives: a configured redirect origin


@dataclass
class Env:
    platform: Platform
    server: OAuthServer
    a: Principal  # vault "vault-a"
    b: Principal  # vault "vault-b"


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[Env]:
    async with running_oauth_server(redirect_uris={REDIRECT}) as server:
        platform = Platform.build(
            settings.model_copy(
                update=server.settings_update(dev_mode=True, oauth_redirect_origins=ORIGINS)
            )
        )
        await platform.start()
        try:
            a = (await platform.vaults.dev_vault("vault-a")).principal
            b = (await platform.vaults.dev_vault("vault-b")).principal
            yield Env(platform, server, a, b)
        finally:
            await platform.stop()


async def start(env: Env, principal: Principal | None = None) -> tuple[str, str]:
    """Ask for an authorization URL, approve it at the provider: (code, state)."""
    auth = await env.platform.oauth.authorization_url(
        principal or env.a, "vercel", redirect_uri=REDIRECT
    )
    location, params = await approve(auth.url)
    assert location.startswith(REDIRECT)
    assert params["state"] == auth.state
    return params["code"], params["state"]


async def connect(env: Env, principal: Principal | None = None) -> str:
    code, state = await start(env, principal)
    connection = await env.platform.oauth.complete("vercel", state=state, code=code)
    return connection.id


def s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


async def test_authorization_url_has_state_pkce_s256_and_scopes(env: Env) -> None:
    auth = await env.platform.oauth.authorization_url(env.a, "vercel", redirect_uri=REDIRECT)
    assert auth.url.startswith(env.server.authorize_url + "?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(auth.url).query).items()}
    assert query["client_id"] == env.server.client_id
    assert query["response_type"] == "code"
    assert query["redirect_uri"] == REDIRECT
    assert query["state"] == auth.state
    assert len(auth.state) >= 32
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert query["scope"].split() == SCOPES
    assert auth.scopes == tuple(SCOPES)
    assert auth.expires_in == 600
    async with env.platform.database.session() as session:
        row = await session.scalar(select(OAuthStateRow))
    assert row is not None
    # the state is stored only as its hash, the verifier sealed, and it answers the challenge
    assert row.state_hash == hashlib.sha256(auth.state.encode()).hexdigest()
    assert auth.state not in (row.state_hash, row.code_verifier)
    verifier = env.platform.secrets.open(row.code_verifier)
    assert verifier not in row.code_verifier
    assert s256(verifier) == query["code_challenge"]
    assert row.tenant_id == env.a.tenant_id
    assert timedelta(seconds=590) < row.expires_at - row.created_at <= timedelta(seconds=600)


async def test_callback_exchanges_the_code_and_seals_the_tokens(env: Env) -> None:
    code, state = await start(env)
    connection = await env.platform.oauth.complete("vercel", state=state, code=code)
    assert connection.status == "active"
    assert connection.external_user_id == "user_test123"
    assert connection.team_id == "team_test456"
    assert connection.scopes == tuple(SCOPES)
    assert connection.token_expires_at is not None
    assert not connection.token_expired
    # what the provider saw: our credentials, the code, the same redirect URI, the verifier
    (request,) = env.server.token_requests
    assert request["grant_type"] == "authorization_code"
    assert request["code"] == code
    assert request["redirect_uri"] == REDIRECT
    assert request["client_auth"] == "client_secret_post"
    assert len(request["code_verifier"]) >= 43
    # at rest: no plaintext token anywhere in the row
    (access_token,) = env.server.access_tokens
    async with env.platform.database.session() as session:
        raw = (await session.execute(text("SELECT * FROM oauth_connections"))).all()
    assert len(raw) == 1
    for secret in env.server.issued_secrets():
        assert secret not in repr(raw)
    async with env.platform.database.session() as session:
        row = await session.get(OAuthConnectionRow, connection.id)
    assert row is not None
    assert row.tokens is not None
    assert env.platform.secrets.open_json(row.tokens)["access_token"] == access_token
    # and the rest of the program gets it when it needs to call Vercel
    assert await env.platform.oauth.access_token(env.a, "vercel") == access_token


async def test_a_state_works_once(env: Env) -> None:
    code, state = await start(env)
    await env.platform.oauth.complete("vercel", state=state, code=code)
    with pytest.raises(Invalid) as caught:
        await env.platform.oauth.complete("vercel", state=state, code=code)
    assert caught.value.reason == "INVALID_STATE"
    assert caught.value.message == "Invalid or expired state"
    assert len(env.server.token_requests) == 1  # the replay never reached the provider


async def test_an_expired_state_is_refused(env: Env) -> None:
    code, state = await start(env)
    async with env.platform.database.session() as session:
        await session.execute(
            update(OAuthStateRow).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    with pytest.raises(Invalid) as caught:
        await env.platform.oauth.complete("vercel", state=state, code=code)
    assert caught.value.reason == "INVALID_STATE"
    assert env.server.token_requests == []


async def test_unknown_state_is_refused(env: Env) -> None:
    code, _ = await start(env)
    for state in ("made-up-state", "x" * 600):
        with pytest.raises(Invalid) as caught:
            await env.platform.oauth.complete("vercel", state=state, code=code)
        assert caught.value.reason == "INVALID_STATE"
    with pytest.raises(Invalid) as missing:
        await env.platform.oauth.complete("vercel", state=None, code=code)
    assert missing.value.missing
    assert missing.value.field == "state"


async def test_a_state_is_bound_to_its_vault(env: Env) -> None:
    code, state = await start(env, env.a)
    with pytest.raises(Invalid) as caught:
        await env.platform.oauth.complete("vercel", state=state, code=code, principal=env.b)
    assert caught.value.reason == "INVALID_STATE"
    # the other vault's attempt did not spend it: its owner still completes
    connection = await env.platform.oauth.complete(
        "vercel", state=state, code=code, principal=env.a
    )
    assert (await env.platform.oauth.status(env.a, "vercel")).active == connection
    assert not (await env.platform.oauth.status(env.b, "vercel")).connected


async def test_a_code_obtained_with_another_challenge_fails_pkce_at_the_provider(
    env: Env,
) -> None:
    """An attacker's code (approved with the attacker's PKCE challenge) injected into the
    victim's callback: the provider refuses our verifier, and the error says why."""
    auth = await env.platform.oauth.authorization_url(env.a, "vercel", redirect_uri=REDIRECT)
    _, params = await approve(auth.url, code_challenge=s256("attacker-verifier-" + "x" * 40))
    with pytest.raises(Invalid) as caught:
        await env.platform.oauth.complete("vercel", state=params["state"], code=params["code"])
    assert caught.value.reason == "INVALID_CODE"
    assert "invalid_grant" in caught.value.message
    assert "PKCE verification failed" in caught.value.message
    status = await env.platform.oauth.status(env.a, "vercel")
    assert not status.connected
    assert [e.event for e in status.events] == ["failed"]
    assert "PKCE" in (status.events[0].detail or "")


async def test_wrong_client_secret_is_a_server_problem(env: Env, settings: Settings) -> None:
    platform = Platform.build(
        settings.model_copy(
            update=env.server.settings_update(
                dev_mode=True,
                vercel_client_secret=SecretStr("ocs_not-the-right-one"),
                oauth_redirect_origins=ORIGINS,
            )
        )
    )
    await platform.start()
    try:
        vault = (await platform.vaults.dev_vault("vault-a")).principal
        auth = await platform.oauth.authorization_url(vault, "vercel", redirect_uri=REDIRECT)
        _, params = await approve(auth.url)
        with pytest.raises(Unavailable) as caught:
            await platform.oauth.complete("vercel", state=params["state"], code=params["code"])
        assert caught.value.reason == "VERCEL_TOKEN_EXCHANGE_FAILED"
        assert "invalid_client" in caught.value.message
        assert "ocs_not-the-right-one" not in caught.value.message
    finally:
        await platform.stop()


async def test_unreachable_token_endpoint(env: Env, settings: Settings) -> None:
    update_ = env.server.settings_update(
        dev_mode=True, vercel_token_url="http://127.0.0.1:9/t", oauth_redirect_origins=ORIGINS
    )
    platform = Platform.build(settings.model_copy(update=update_))
    await platform.start()
    try:
        vault = (await platform.vaults.dev_vault("vault-a")).principal
        auth = await platform.oauth.authorization_url(vault, "vercel", redirect_uri=REDIRECT)
        _, params = await approve(auth.url)
        with pytest.raises(Unavailable) as caught:
            await platform.oauth.complete("vercel", state=params["state"], code=params["code"])
        assert caught.value.reason == "VERCEL_UNAVAILABLE"
        events = (await platform.oauth.status(vault, "vercel")).events
        assert [e.event for e in events] == ["failed"]
    finally:
        await platform.stop()


async def test_refusal_at_the_provider_spends_the_state_and_is_recorded(env: Env) -> None:
    auth = await env.platform.oauth.authorization_url(env.a, "vercel", redirect_uri=REDIRECT)
    env.server.deny_next = True
    _, params = await approve(auth.url)
    assert params["error"] == "access_denied"
    await env.platform.oauth.deny("vercel", state=params["state"], error=params["error"])
    events = (await env.platform.oauth.status(env.a, "vercel")).events
    assert [(e.event, e.detail) for e in events] == [
        ("failed", "authorization refused: access_denied")
    ]
    with pytest.raises(Invalid, match="Invalid or expired state"):
        await env.platform.oauth.complete("vercel", state=params["state"], code="any")


async def test_reconnect_replaces_disconnect_ends_and_history_remembers(env: Env) -> None:
    first = await connect(env)
    second = await connect(env)
    status = await env.platform.oauth.status(env.a, "vercel")
    assert status.active is not None
    assert status.active.id == second
    assert [(c.id, c.status) for c in status.history] == [(second, "active"), (first, "replaced")]

    at = await env.platform.oauth.disconnect(env.a, "vercel")
    status = await env.platform.oauth.status(env.a, "vercel")
    assert not status.connected
    assert [(c.id, c.status) for c in status.history] == [
        (second, "disconnected"),
        (first, "replaced"),
    ]
    assert status.history[0].disconnected_at == at
    assert [(e.event, e.connection_id) for e in status.events] == [
        ("disconnected", second),
        ("connected", second),
        ("disconnected", first),
        ("connected", first),
    ]
    # the tokens are gone from the database, not just flagged
    async with env.platform.database.session() as session:
        tokens = (await session.scalars(select(OAuthConnectionRow.tokens))).all()
    assert tokens == [None, None]
    with pytest.raises(NotFound) as caught:
        await env.platform.oauth.disconnect(env.a, "vercel")
    assert caught.value.reason == "NO_VERCEL_CONNECTION"
    with pytest.raises(NotFound) as caught:
        await env.platform.oauth.access_token(env.a, "vercel")
    assert caught.value.reason == "NO_VERCEL_CONNECTION"


async def test_disconnect_a_named_connection(env: Env) -> None:
    connection_id = await connect(env)
    with pytest.raises(NotFound):
        await env.platform.oauth.disconnect(env.a, "vercel", "conn_does_not_exist")
    await env.platform.oauth.disconnect(env.a, "vercel", connection_id)
    assert not (await env.platform.oauth.status(env.a, "vercel")).connected


async def test_another_vault_gets_nothing(env: Env) -> None:
    connection_id = await connect(env, env.a)
    status_b = await env.platform.oauth.status(env.b, "vercel")
    assert (status_b.active, status_b.history, status_b.events) == (None, (), ())
    with pytest.raises(NotFound):
        await env.platform.oauth.access_token(env.b, "vercel")
    with pytest.raises(NotFound):
        await env.platform.oauth.disconnect(env.b, "vercel", connection_id)
    assert (await env.platform.oauth.status(env.a, "vercel")).connected


async def test_an_expired_token_is_refreshed(env: Env) -> None:
    env.server.expires_in = 30  # inside the refresh leeway: due at once
    await connect(env)
    first = env.server.access_tokens[-1]
    refreshed = await env.platform.oauth.access_token(env.a, "vercel")
    assert refreshed != first
    assert refreshed == env.server.access_tokens[-1]
    assert env.server.token_requests[-1]["grant_type"] == "refresh_token"
    status = await env.platform.oauth.status(env.a, "vercel")
    assert [e.event for e in status.events] == ["refreshed", "connected"]
    assert status.connected


async def test_a_refused_refresh_ends_the_connection(env: Env) -> None:
    env.server.expires_in = 30
    await connect(env)
    env.server.refresh_tokens.clear()  # the provider revoked them
    with pytest.raises(NotFound) as caught:
        await env.platform.oauth.access_token(env.a, "vercel")
    assert caught.value.reason == "NO_VERCEL_CONNECTION"
    assert "expired" in caught.value.message
    status = await env.platform.oauth.status(env.a, "vercel")
    assert not status.connected
    assert status.history[0].status == "expired"
    assert status.events[0].event == "failed"


async def test_not_configured(platform: Platform) -> None:
    await platform.start()
    try:
        vault = Principal("default", "someone")
        with pytest.raises(Unavailable) as caught:
            await platform.oauth.authorization_url(vault, "vercel", redirect_uri=REDIRECT)
        assert caught.value.reason == "VERCEL_NOT_CONFIGURED"
    finally:
        await platform.stop()


async def test_redirect_uri_must_be_an_http_url(env: Env) -> None:
    with pytest.raises(Invalid) as caught:
        await env.platform.oauth.authorization_url(
            env.a, "vercel", redirect_uri="javascript:alert(1)"
        )
    assert caught.value.field == "redirect_uri"


async def test_redirect_uri_must_be_on_an_allowed_origin(env: Env) -> None:
    with pytest.raises(Invalid) as caught:
        await env.platform.oauth.authorization_url(
            env.a, "vercel", redirect_uri="https://attacker.example/callback"
        )
    assert caught.value.field == "redirect_uri"
    # this server's own callback is always allowed
    own = "http://127.0.0.1:3001/metamorph/api/vercel/auth/callback"
    auth = await env.platform.oauth.authorization_url(
        env.a, "vercel", redirect_uri=own, default_redirect_uri=own
    )
    assert auth.redirect_uri == own


async def test_callback_checks_success_url_before_spending_the_state(env: Env) -> None:
    code, state = await start(env)
    with pytest.raises(Invalid) as caught:
        await env.platform.oauth.callback(
            "vercel", state=state, code=code, success_url="https://attacker.example/"
        )
    assert caught.value.field == "success_url"
    connection = await env.platform.oauth.callback(
        "vercel", state=state, code=code, success_url="https://app.example/done"
    )
    assert connection.status == "active"


def test_origins_are_compared_as_browsers_see_them() -> None:
    policy = RedirectPolicy(["https://App.Example:443/", "http://localhost:5173"])
    assert policy.origins == {"https://app.example", "http://localhost:5173"}
    assert policy.check("https://app.example/x?y=1", field="f") == "https://app.example/x?y=1"
    assert policy.check("http://localhost:5173/", field="f")
    for url in (
        "https://app.example@evil.example/",
        "https://evil.example\\@app.example/",
        "https://app.example.evil.example/",
        "http://localhost:5174/",
        "javascript:alert(1)",
        "//evil.example/",
    ):
        with pytest.raises(Invalid):
            policy.check(url, field="f")
    with pytest.raises(ValueError, match="not an http"):
        RedirectPolicy(["app.example"])
