"""Metamorph's vault auth and `/api/vercel/auth/*` over real HTTP, against a real local OAuth
server: the seed's fields, status codes and error codes, and no token in any response."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt as pyjwt
import pytest
from pydantic import SecretStr
from sqlalchemy import text, update

from menagerie.app import create_app
from menagerie.core.clock import utcnow
from menagerie.core.identity.oauth.tables import OAuthStateRow
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.envelopes import assert_error
from tests.utils.http import bearer
from tests.utils.oauth_server import SCOPES, OAuthServer, approve, running_oauth_server
from tests.utils.server import client_for

SECRET = "metamorph-vault-secret-0123456789abcdef"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
BASE = "/metamorph/api/vercel/auth"
APP = "https://app.example"  # the configured redirect origin


def vault_token(vault_id: str, *, key: str = SECRET, **extra: Any) -> str:
    now = utcnow()
    payload = {"vaultId": vault_id, "sub": f"user-of-{vault_id}", "iat": now, **extra}
    payload.setdefault("exp", now + timedelta(minutes=10))
    return pyjwt.encode(payload, key, algorithm="HS256")


def vault(vault_id: str) -> dict[str, str]:
    return bearer(vault_token(vault_id))


@dataclass
class Env:
    client: httpx.AsyncClient
    server: OAuthServer
    platform: Platform
    seen: list[httpx.Response] = field(default_factory=list)

    async def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = await self.client.request(method, url, **kwargs)
        self.seen.append(response)
        return response

    async def connect(self, headers: dict[str, str], **callback_params: str) -> httpx.Response:
        """The whole dance: our URL, the provider's approval, the provider's redirect back."""
        auth = (await self.call("GET", f"{BASE}/url", headers=headers)).json()
        location, _ = await approve(auth["url"])
        if callback_params:
            location += "&" + urlencode(callback_params)
        # the browser follows the provider's redirect: no credentials on it
        return await self.call("GET", location)


async def _env(settings: Settings, **update: Any) -> AsyncIterator[Env]:
    async with running_oauth_server() as server:
        update.setdefault("oauth_redirect_origins", [APP])
        settings = settings.model_copy(
            update=server.settings_update(vault_jwt_secret=SecretStr(SECRET), **update)
        )
        platform = Platform.build(settings)
        async with client_for(create_app(platform=platform)) as client:
            env = Env(client, server, platform)
            yield env
            # nothing any response carried, body or headers, holds a token the provider issued
            for response in env.seen:
                wire = response.text + repr(response.headers)
                for secret in server.issued_secrets():
                    assert secret not in wire, f"token leaked by {response.request.url}"
                assert server.client_secret not in wire


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[Env]:
    """Production mode: vault JWTs only."""
    async for value in _env(settings):
        yield value


@pytest.fixture
async def dev_env(settings: Settings) -> AsyncIterator[Env]:
    async for value in _env(settings, dev_mode=True):
        yield value


# -- authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/url"), ("GET", "/status"), ("DELETE", "/disconnect")]
)
async def test_no_credentials_is_missing_token(env: Env, method: str, path: str) -> None:
    response = await env.call(method, BASE + path)
    body = assert_error(response, 401, "MISSING_TOKEN", dialect="metamorph")
    assert body["error"].startswith("No authorization header")


async def test_x_vault_id_is_not_a_credential_outside_dev_mode(env: Env) -> None:
    response = await env.call("GET", f"{BASE}/status", headers={"X-Vault-Id": "my-vault"})
    assert_error(response, 401, "MISSING_TOKEN", dialect="metamorph")
    assert "dev mode" in response.json()["error"]


@pytest.mark.parametrize(
    ("case", "authorization"),
    [
        ("alg none", "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJ2YXVsdElkIjoidiJ9."),
        ("wrong key", "Bearer " + vault_token("v", key="not-the-vault-secret-0123456789abcdef")),
        ("expired", "Bearer " + vault_token("v", exp=utcnow() - timedelta(hours=1))),
        ("garbage", "Bearer not.a.jwt"),
        ("bad vault id", "Bearer " + vault_token("../../etc")),
        ("not bearer", "Basic dXNlcjpwYXNz"),
    ],
)
async def test_bad_tokens_are_invalid_token(env: Env, case: str, authorization: str) -> None:
    response = await env.call("GET", f"{BASE}/status", headers={"Authorization": authorization})
    assert_error(response, 401, "INVALID_TOKEN", dialect="metamorph")


async def test_expired_token_says_so(env: Env) -> None:
    token = vault_token("v", exp=utcnow() - timedelta(hours=1))
    response = await env.call("GET", f"{BASE}/status", headers={"Authorization": f"Bearer {token}"})
    assert response.json()["error"] == "token has expired"


async def test_dev_mode_takes_x_vault_id_but_never_a_bad_token(dev_env: Env) -> None:
    ok = await dev_env.call("GET", f"{BASE}/status", headers={"X-Vault-Id": "my-vault"})
    assert ok.status_code == 200
    forged = await dev_env.call(
        "GET",
        f"{BASE}/status",
        headers={"X-Vault-Id": "my-vault", "Authorization": "Bearer not.a.jwt"},
    )
    assert_error(forged, 401, "INVALID_TOKEN", dialect="metamorph")
    bad_id = await dev_env.call("GET", f"{BASE}/status", headers={"X-Vault-Id": "a b"})
    assert_error(bad_id, 401, "INVALID_TOKEN", dialect="metamorph")
    missing = await dev_env.call("GET", f"{BASE}/status")
    assert_error(missing, 401, "MISSING_TOKEN", dialect="metamorph")


# -- the flow ------------------------------------------------------------------------------------


async def test_auth_url(env: Env) -> None:
    response = await env.call("GET", f"{BASE}/url", headers=vault("my-vault"))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"url", "state", "expiresIn", "scopes"}
    assert body["expiresIn"] == 600
    assert body["scopes"] == SCOPES
    query = {k: v[0] for k, v in parse_qs(urlsplit(body["url"]).query).items()}
    assert body["url"].startswith(env.server.authorize_url)
    assert query["state"] == body["state"]
    assert query["code_challenge_method"] == "S256"
    assert query["scope"] == " ".join(SCOPES)
    # no redirect URI configured: our own callback, as the client reached us
    assert query["redirect_uri"] == f"{env.client.base_url}{BASE}/callback"


async def test_auth_url_with_custom_redirect_uri(env: Env) -> None:
    custom = f"{APP}/vercel/return"
    body = (
        await env.call("GET", f"{BASE}/url", params={"redirect_uri": custom}, headers=vault("v"))
    ).json()
    assert parse_qs(urlsplit(body["url"]).query)["redirect_uri"] == [custom]
    bad = await env.call(
        "GET", f"{BASE}/url", params={"redirect_uri": "javascript:x"}, headers=vault("v")
    )
    assert_error(bad, 400, "INVALID_REDIRECT_URI", dialect="metamorph")


async def test_redirect_uri_on_a_foreign_origin_is_refused(env: Env) -> None:
    # the provider would send the authorization code there
    foreign = await env.call(
        "GET",
        f"{BASE}/url",
        params={"redirect_uri": "https://attacker.example/steal"},
        headers=vault("v"),
    )
    body = assert_error(foreign, 400, "INVALID_REDIRECT_URI", dialect="metamorph")
    assert "https://attacker.example" in body["error"]


async def test_callback_connects_and_status_shows_it(env: Env) -> None:
    response = await env.connect(vault("my-vault"))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "success": True,
        "vercelUserId": "user_test123",
        "teamId": "team_test456",
        "scopes": SCOPES,
    }
    status = (await env.call("GET", f"{BASE}/status", headers=vault("my-vault"))).json()
    assert status["connected"] is True
    active = status["activeConnection"]
    assert set(active) == {
        "id", "vercelUserId", "teamId", "scopes", "status", "tokenExpired",
        "tokenExpiresAt", "createdAt", "updatedAt",
    }  # fmt: skip
    assert active["id"].startswith("conn_")
    assert (active["vercelUserId"], active["teamId"]) == ("user_test123", "team_test456")
    assert active["status"] == "active"
    assert active["tokenExpired"] is False
    for key in ("tokenExpiresAt", "createdAt", "updatedAt"):
        assert ISO_MS.match(active[key])
    (entry,) = status["connectionHistory"]
    assert {k: entry[k] for k in ("id", "status")} == {"id": active["id"], "status": "active"}
    assert ISO_MS.match(entry["createdAt"])
    assert ISO_MS.match(entry["updatedAt"])
    assert [e["event"] for e in status["events"]] == ["connected"]
    # at rest, the connection row holds no token in the clear
    async with env.platform.database.session() as session:
        rows = repr((await session.execute(text("SELECT * FROM oauth_connections"))).all())
    for secret in env.server.issued_secrets():
        assert secret not in rows


async def test_callback_redirects_to_success_url(env: Env) -> None:
    response = await env.connect(vault("v"), success_url=f"{APP}/done?x=1")
    assert response.status_code == 302
    assert response.headers["location"] == f"{APP}/done?x=1"
    status = (await env.call("GET", f"{BASE}/status", headers=vault("v"))).json()
    assert status["connected"] is True


async def test_callback_redirects_to_this_servers_own_pages(env: Env) -> None:
    own = f"{env.client.base_url}/console/connected"
    response = await env.connect(vault("v"), success_url=own)
    assert response.status_code == 302
    assert response.headers["location"] == own


@pytest.mark.parametrize(
    "target",
    [
        "https://attacker.example/phish",
        "https://app.example.attacker.example/",  # a look-alike host
        "https://app.example@attacker.example/",  # userinfo: the host is the attacker's
        "https://attacker.example\\@app.example/",  # a browser reads the backslash as a slash
        "http://app.example/done",  # another scheme is another origin
        "https://app.example:8443/done",  # another port too
    ],
)
async def test_success_url_on_a_foreign_origin_is_refused(env: Env, target: str) -> None:
    """The open redirect: after a real login, the callback sent the browser wherever the
    link said. Only this server and the configured origins are allowed now."""
    auth = (await env.call("GET", f"{BASE}/url", headers=vault("v"))).json()
    location, _ = await approve(auth["url"])
    refused = await env.call("GET", location + "&" + urlencode({"success_url": target}))
    assert "location" not in refused.headers
    assert_error(refused, 400, "INVALID_SUCCESS_URL", dialect="metamorph")
    # refused before the state is spent: the same login still completes
    assert (await env.call("GET", location)).status_code == 200


async def test_no_redirect_origin_configured_allows_only_this_server(settings: Settings) -> None:
    async for env in _env(settings, oauth_redirect_origins=[]):
        auth = (await env.call("GET", f"{BASE}/url", headers=vault("v"))).json()
        location, _ = await approve(auth["url"])
        refused = await env.call("GET", location + "&" + urlencode({"success_url": APP}))
        assert_error(refused, 400, "INVALID_SUCCESS_URL", dialect="metamorph")


async def test_replayed_state_is_invalid_state(env: Env) -> None:
    auth = (await env.call("GET", f"{BASE}/url", headers=vault("v"))).json()
    location, _ = await approve(auth["url"])
    assert (await env.call("GET", location)).status_code == 200
    replay = await env.call("GET", location)
    body = assert_error(replay, 400, "INVALID_STATE", dialect="metamorph")
    assert body["error"] == "Invalid or expired state"


async def test_expired_state_is_invalid_state(env: Env) -> None:
    auth = (await env.call("GET", f"{BASE}/url", headers=vault("v"))).json()
    location, _ = await approve(auth["url"])
    async with env.platform.database.session() as session:
        await session.execute(update(OAuthStateRow).values(expires_at=utcnow()))
    response = await env.call("GET", location)
    assert_error(response, 400, "INVALID_STATE", dialect="metamorph")


async def test_state_of_another_vault_is_invalid_state(env: Env) -> None:
    auth = (await env.call("GET", f"{BASE}/url", headers=vault("vault-a"))).json()
    location, _ = await approve(auth["url"])
    other = await env.call("GET", location, headers=vault("vault-b"))
    assert_error(other, 400, "INVALID_STATE", dialect="metamorph")
    own = await env.call("GET", location, headers=vault("vault-a"))
    assert own.status_code == 200


async def test_missing_code_or_state(env: Env) -> None:
    no_code = await env.call("GET", f"{BASE}/callback", params={"state": "s"})
    assert_error(no_code, 400, "MISSING_CODE", dialect="metamorph")
    no_state = await env.call("GET", f"{BASE}/callback", params={"code": "c"})
    assert_error(no_state, 400, "MISSING_STATE", dialect="metamorph")


async def test_wrong_pkce_is_a_clear_error(env: Env) -> None:
    auth = (await env.call("GET", f"{BASE}/url", headers=vault("v"))).json()
    # a code approved for some other PKCE challenge (an injected code)
    location, _ = await approve(auth["url"], code_challenge="A" * 43)
    response = await env.call("GET", location)
    body = assert_error(response, 400, "INVALID_CODE", dialect="metamorph")
    assert "PKCE verification failed" in body["error"]
    status = (await env.call("GET", f"{BASE}/status", headers=vault("v"))).json()
    assert status["connected"] is False
    assert status["events"][0]["event"] == "failed"


async def test_refusal_at_vercel(env: Env) -> None:
    auth = (await env.call("GET", f"{BASE}/url", headers=vault("v"))).json()
    env.server.deny_next = True
    location, params = await approve(auth["url"])
    assert params["error"] == "access_denied"
    response = await env.call("GET", location)
    assert_error(response, 400, "INVALID_AUTHORIZATION", dialect="metamorph")
    status = (await env.call("GET", f"{BASE}/status", headers=vault("v"))).json()
    assert [e["event"] for e in status["events"]] == ["failed"]


async def test_disconnect_and_history(env: Env) -> None:
    await env.connect(vault("v"))
    response = await env.call("DELETE", f"{BASE}/disconnect", headers=vault("v"))
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert ISO_MS.match(body["disconnectedAt"])
    status = (await env.call("GET", f"{BASE}/status", headers=vault("v"))).json()
    assert status["connected"] is False
    assert status["activeConnection"] is None
    (entry,) = status["connectionHistory"]
    assert entry["status"] == "disconnected"
    assert entry["disconnectedAt"] == body["disconnectedAt"]
    assert [e["event"] for e in status["events"]] == ["disconnected", "connected"]
    again = await env.call("DELETE", f"{BASE}/disconnect", headers=vault("v"))
    assert_error(again, 404, "NO_VERCEL_CONNECTION", dialect="metamorph")


async def test_disconnect_a_named_connection(env: Env) -> None:
    await env.connect(vault("v"))
    status = (await env.call("GET", f"{BASE}/status", headers=vault("v"))).json()
    connection_id = status["activeConnection"]["id"]
    response = await env.call(
        "DELETE", f"{BASE}/disconnect", json={"connectionId": connection_id}, headers=vault("v")
    )
    assert response.status_code == 200


async def test_another_vault_gets_nothing(env: Env) -> None:
    await env.connect(vault("vault-a"))
    status_a = (await env.call("GET", f"{BASE}/status", headers=vault("vault-a"))).json()
    connection_id = status_a["activeConnection"]["id"]
    status_b = (await env.call("GET", f"{BASE}/status", headers=vault("vault-b"))).json()
    assert status_b == {
        "connected": False,
        "activeConnection": None,
        "connectionHistory": [],
        "events": [],
    }
    steal = await env.call(
        "DELETE",
        f"{BASE}/disconnect",
        json={"connectionId": connection_id},
        headers=vault("vault-b"),
    )
    assert_error(steal, 404, "NOT_FOUND", dialect="metamorph")
    status_a = (await env.call("GET", f"{BASE}/status", headers=vault("vault-a"))).json()
    assert status_a["connected"] is True


async def test_dev_mode_flow_with_x_vault_id(dev_env: Env) -> None:
    response = await dev_env.connect({"X-Vault-Id": "my-vault"})
    assert response.status_code == 200
    status = await dev_env.call("GET", f"{BASE}/status", headers={"X-Vault-Id": "my-vault"})
    assert status.json()["connected"] is True


async def test_not_configured_is_503(settings: Settings) -> None:
    settings = settings.model_copy(update={"vault_jwt_secret": SecretStr(SECRET)})
    async with client_for(create_app(platform=Platform.build(settings))) as client:
        response = await client.get(f"{BASE}/url", headers=vault("v"))
        # a made-up callback on such a server is a bad state, not an outage
        callback = await client.get(f"{BASE}/callback", params={"code": "c", "state": "s"})
    assert_error(response, 503, "VERCEL_NOT_CONFIGURED", dialect="metamorph")
    assert_error(callback, 400, "INVALID_STATE", dialect="metamorph")
