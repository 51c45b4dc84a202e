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
from tests.utils.oauth_server import SCOPES, OAuthServer, approve, running_oauth_server
from tests.utils.server import client_for

SECRET = "metamorph-vault-secret-0123456789abcdef"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
BASE = "/metamorph/api/vercel/auth"


def vault_token(vault_id: str, *, key: str = SECRET, **extra: Any) -> str:
    now = utcnow()
    payload = {"vaultId": vault_id, "sub": f"user-of-{vault_id}", "iat": now, **extra}
    payload.setdefault("exp", now + timedelta(minutes=10))
    return pyjwt.encode(payload, key, algorithm="HS256")


def bearer(vault_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {vault_token(vault_id)}"}


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
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "MISSING_TOKEN"
    assert body["error"].startswith("No authorization header")


async def test_x_vault_id_is_not_a_credential_outside_dev_mode(env: Env) -> None:
    response = await env.call("GET", f"{BASE}/status", headers={"X-Vault-Id": "my-vault"})
    assert response.status_code == 401
    assert response.json()["code"] == "MISSING_TOKEN"
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
    assert response.status_code == 401, case
    body = response.json()
    assert body["code"] == "INVALID_TOKEN", case
    assert set(body) >= {"error", "code"}


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
    assert forged.status_code == 401
    assert forged.json()["code"] == "INVALID_TOKEN"
    bad_id = await dev_env.call("GET", f"{BASE}/status", headers={"X-Vault-Id": "a b"})
    assert bad_id.status_code == 401
    assert bad_id.json()["code"] == "INVALID_TOKEN"
    missing = await dev_env.call("GET", f"{BASE}/status")
    assert missing.status_code == 401
    assert missing.json()["code"] == "MISSING_TOKEN"


# -- the flow ------------------------------------------------------------------------------------


async def test_auth_url(env: Env) -> None:
    response = await env.call("GET", f"{BASE}/url", headers=bearer("my-vault"))
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
    custom = "https://frontend.example/vercel/return"
    body = (
        await env.call("GET", f"{BASE}/url", params={"redirect_uri": custom}, headers=bearer("v"))
    ).json()
    assert parse_qs(urlsplit(body["url"]).query)["redirect_uri"] == [custom]
    bad = await env.call(
        "GET", f"{BASE}/url", params={"redirect_uri": "javascript:x"}, headers=bearer("v")
    )
    assert bad.status_code == 400
    assert bad.json()["code"] == "INVALID_REDIRECT_URI"


async def test_callback_connects_and_status_shows_it(env: Env) -> None:
    response = await env.connect(bearer("my-vault"))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "success": True,
        "vercelUserId": "user_test123",
        "teamId": "team_test456",
        "scopes": SCOPES,
    }
    status = (await env.call("GET", f"{BASE}/status", headers=bearer("my-vault"))).json()
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
    response = await env.connect(bearer("v"), success_url="https://app.example/done?x=1")
    assert response.status_code == 302
    assert response.headers["location"] == "https://app.example/done?x=1"
    status = (await env.call("GET", f"{BASE}/status", headers=bearer("v"))).json()
    assert status["connected"] is True


async def test_bad_success_url_is_refused_before_the_state_is_spent(env: Env) -> None:
    auth = (await env.call("GET", f"{BASE}/url", headers=bearer("v"))).json()
    location, _ = await approve(auth["url"])
    bad = await env.call("GET", location + "&success_url=javascript%3Aalert(1)")
    assert bad.status_code == 400
    assert bad.json()["code"] == "INVALID_SUCCESS_URL"
    assert (await env.call("GET", location)).status_code == 200


async def test_replayed_state_is_invalid_state(env: Env) -> None:
    auth = (await env.call("GET", f"{BASE}/url", headers=bearer("v"))).json()
    location, _ = await approve(auth["url"])
    assert (await env.call("GET", location)).status_code == 200
    replay = await env.call("GET", location)
    assert replay.status_code == 400
    body = replay.json()
    assert (body["error"], body["code"]) == ("Invalid or expired state", "INVALID_STATE")


async def test_expired_state_is_invalid_state(env: Env) -> None:
    auth = (await env.call("GET", f"{BASE}/url", headers=bearer("v"))).json()
    location, _ = await approve(auth["url"])
    async with env.platform.database.session() as session:
        await session.execute(update(OAuthStateRow).values(expires_at=utcnow()))
    response = await env.call("GET", location)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_STATE"


async def test_state_of_another_vault_is_invalid_state(env: Env) -> None:
    auth = (await env.call("GET", f"{BASE}/url", headers=bearer("vault-a"))).json()
    location, _ = await approve(auth["url"])
    other = await env.call("GET", location, headers=bearer("vault-b"))
    assert other.status_code == 400
    assert other.json()["code"] == "INVALID_STATE"
    own = await env.call("GET", location, headers=bearer("vault-a"))
    assert own.status_code == 200


async def test_missing_code_or_state(env: Env) -> None:
    no_code = await env.call("GET", f"{BASE}/callback", params={"state": "s"})
    assert no_code.status_code == 400
    assert no_code.json()["code"] == "MISSING_CODE"
    no_state = await env.call("GET", f"{BASE}/callback", params={"code": "c"})
    assert no_state.status_code == 400
    assert no_state.json()["code"] == "MISSING_STATE"


async def test_wrong_pkce_is_a_clear_error(env: Env) -> None:
    auth = (await env.call("GET", f"{BASE}/url", headers=bearer("v"))).json()
    # a code approved for some other PKCE challenge (an injected code)
    location, _ = await approve(auth["url"], code_challenge="A" * 43)
    response = await env.call("GET", location)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "INVALID_CODE"
    assert "PKCE verification failed" in body["error"]
    status = (await env.call("GET", f"{BASE}/status", headers=bearer("v"))).json()
    assert status["connected"] is False
    assert status["events"][0]["event"] == "failed"


async def test_refusal_at_vercel(env: Env) -> None:
    auth = (await env.call("GET", f"{BASE}/url", headers=bearer("v"))).json()
    env.server.deny_next = True
    location, params = await approve(auth["url"])
    assert params["error"] == "access_denied"
    response = await env.call("GET", location)
    assert response.status_code == 400
    assert response.json()["code"] == "AUTHORIZATION_DENIED"
    status = (await env.call("GET", f"{BASE}/status", headers=bearer("v"))).json()
    assert [e["event"] for e in status["events"]] == ["failed"]


async def test_disconnect_and_history(env: Env) -> None:
    await env.connect(bearer("v"))
    response = await env.call("DELETE", f"{BASE}/disconnect", headers=bearer("v"))
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert ISO_MS.match(body["disconnectedAt"])
    status = (await env.call("GET", f"{BASE}/status", headers=bearer("v"))).json()
    assert status["connected"] is False
    assert status["activeConnection"] is None
    (entry,) = status["connectionHistory"]
    assert entry["status"] == "disconnected"
    assert entry["disconnectedAt"] == body["disconnectedAt"]
    assert [e["event"] for e in status["events"]] == ["disconnected", "connected"]
    again = await env.call("DELETE", f"{BASE}/disconnect", headers=bearer("v"))
    assert again.status_code == 404
    assert again.json()["code"] == "NO_VERCEL_CONNECTION"


async def test_disconnect_a_named_connection(env: Env) -> None:
    await env.connect(bearer("v"))
    status = (await env.call("GET", f"{BASE}/status", headers=bearer("v"))).json()
    connection_id = status["activeConnection"]["id"]
    response = await env.call(
        "DELETE", f"{BASE}/disconnect", json={"connectionId": connection_id}, headers=bearer("v")
    )
    assert response.status_code == 200


async def test_another_vault_gets_nothing(env: Env) -> None:
    await env.connect(bearer("vault-a"))
    status_a = (await env.call("GET", f"{BASE}/status", headers=bearer("vault-a"))).json()
    connection_id = status_a["activeConnection"]["id"]
    status_b = (await env.call("GET", f"{BASE}/status", headers=bearer("vault-b"))).json()
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
        headers=bearer("vault-b"),
    )
    assert steal.status_code == 404
    status_a = (await env.call("GET", f"{BASE}/status", headers=bearer("vault-a"))).json()
    assert status_a["connected"] is True


async def test_dev_mode_flow_with_x_vault_id(dev_env: Env) -> None:
    response = await dev_env.connect({"X-Vault-Id": "my-vault"})
    assert response.status_code == 200
    status = await dev_env.call("GET", f"{BASE}/status", headers={"X-Vault-Id": "my-vault"})
    assert status.json()["connected"] is True


async def test_not_configured_is_503(settings: Settings) -> None:
    settings = settings.model_copy(update={"vault_jwt_secret": SecretStr(SECRET)})
    async with client_for(create_app(platform=Platform.build(settings))) as client:
        response = await client.get(f"{BASE}/url", headers=bearer("v"))
        # a made-up callback on such a server is a bad state, not an outage
        callback = await client.get(f"{BASE}/callback", params={"code": "c", "state": "s"})
    assert response.status_code == 503
    assert response.json()["code"] == "VERCEL_NOT_CONFIGURED"
    assert callback.status_code == 400
    assert callback.json()["code"] == "INVALID_STATE"
