"""Seed 003, replayed: each request example of the served routes (sessions, memories, Vercel
auth) is sent to a real server the way the seed shows it, and each field of the matching
response example is checked: present, of the seed's JSON type, ISO timestamps as such, and
the same value wherever the seed's value follows from the request."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import jwt as pyjwt
import pytest
from pydantic import SecretStr

from menagerie.app import create_app
from menagerie.core.clock import utcnow
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.contract import seeds
from tests.utils.envelopes import assert_error
from tests.utils.http import bearer
from tests.utils.oauth_server import SCOPES, approve, running_oauth_server
from tests.utils.server import client_for

SECRET = "metamorph-vault-secret-0123456789abcdef"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
VAULT = {"X-Vault-Id": "my-vault"}  # the seed's own header and vault, in dev mode


def example(method: str, path: str, label: str = "Response") -> Any:
    """The JSON example labelled `label` under the seed's `METHOD path` heading."""
    for endpoint in seeds.endpoints("003"):
        if (endpoint.method, endpoint.path) == (method, path):
            for found in endpoint.examples:
                if found.label.startswith(label) and found.value is not None:
                    return found.value
    raise AssertionError(f"seed 003 shows no {label} example for {method} {path}")


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object", type(None): "null"}[type(value)]


def fits(shown: Any, actual: Any, where: str = "") -> None:
    """Every field the seed shows is in `actual`, with its JSON type (recursively)."""
    if shown is None:
        return  # the seed shows no value
    assert json_type(actual) == json_type(shown), f"{where}: {actual!r} for {shown!r}"
    if isinstance(shown, str) and ISO_MS.match(shown):
        assert ISO_MS.match(actual), f"{where}: {actual!r} is not an ISO timestamp"
    elif isinstance(shown, dict):
        for key, value in shown.items():
            assert key in actual, f"{where}.{key}: shown by the seed, missing"
            fits(value, actual[key], f"{where}.{key}")
    elif isinstance(shown, list) and shown:
        assert actual, f"{where}: the seed shows items, the answer has none"
        for item in actual:
            fits(shown[0], item, f"{where}[]")


def same(shown: dict[str, Any], actual: dict[str, Any], *keys: str) -> None:
    """The fields whose seed value follows from the request: equal, not only typed alike."""
    assert {k: actual[k] for k in keys} == {k: shown[k] for k in keys}


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_oauth_server() as server:
        update = server.settings_update(vault_jwt_secret=SecretStr(SECRET), dev_mode=True)
        platform = Platform.build(settings.model_copy(update=update))
        async with client_for(create_app(platform=platform)) as http:
            http.base_url = http.base_url.join("/metamorph")
            yield http


def vault_jwt(vault_id: str) -> dict[str, str]:
    now = utcnow()
    claims = {"vaultId": vault_id, "sub": "someone", "iat": now, "exp": now + timedelta(minutes=5)}
    return bearer(pyjwt.encode(claims, SECRET, algorithm="HS256"))


async def test_sessions(client: httpx.AsyncClient) -> None:
    request = example("POST", "/api/sessions", "Request Body")
    created = await client.post("/api/sessions", json=request, headers=VAULT)
    assert created.status_code == 201, created.text
    shown = example("POST", "/api/sessions")
    fits(shown, created.json())
    same(shown, created.json(), "name")
    session_id = created.json()["id"]

    listed = await client.get("/api/sessions", headers=VAULT)
    shown = example("GET", "/api/sessions")
    fits(shown, listed.json())
    same(shown, listed.json(), "vaultId")
    assert listed.json()["sessions"][0]["name"] == request["name"]

    detail = await client.get(f"/api/sessions/{session_id}", headers=VAULT)
    fits(example("GET", "/api/sessions/:id"), detail.json())
    assert (detail.json()["id"], detail.json()["messageCount"]) == (session_id, 0)

    deleted = await client.delete(f"/api/sessions/{session_id}", headers=VAULT)
    shown = example("DELETE", "/api/sessions/:id")
    fits(shown, deleted.json())
    same(shown, deleted.json(), "success")
    gone = await client.get(f"/api/sessions/{session_id}", headers=VAULT)
    body = assert_error(gone, 404, "NOT_FOUND", dialect="metamorph")
    assert "SESSION_NOT_FOUND" in body["details"]  # the precise reason, in details


async def test_memories(client: httpx.AsyncClient) -> None:
    request = example("POST", "/api/memories", "Request Body")
    created = await client.post("/api/memories", json=request, headers=VAULT)
    assert created.status_code == 201, created.text
    shown = example("POST", "/api/memories")
    fits(shown, created.json())
    same(shown, created.json(), "type", "content", "importance")

    listed = await client.get("/api/memories", headers=VAULT)
    shown = example("GET", "/api/memories")
    fits(shown, listed.json())
    same(shown, listed.json(), "vaultId")
    assert listed.json()["total"] == 1

    deleted = await client.delete(f"/api/memories/{created.json()['id']}", headers=VAULT)
    shown = example("DELETE", "/api/memories/:id")
    fits(shown, deleted.json())
    same(shown, deleted.json(), "success")


async def test_production_mode_bearer_as_the_seed_shows(client: httpx.AsyncClient) -> None:
    # "curl -H 'Authorization: Bearer eyJhbG...' /api/sessions": the vault the token names
    token = vault_jwt("my-vault")
    await client.post("/api/sessions", json={"name": "My Session"}, headers=token)
    listed = await client.get("/api/sessions", headers=token)
    shown = example("GET", "/api/sessions")
    fits(shown, listed.json())
    same(shown, listed.json(), "vaultId")
    same(shown["sessions"][0], listed.json()["sessions"][0], "name")


async def test_vercel_auth(client: httpx.AsyncClient) -> None:
    # "curl -H 'X-Vault-Id: my-vault' /api/vercel/auth/url"
    auth = await client.get("/api/vercel/auth/url", headers=VAULT)
    shown = example("GET", "/api/vercel/auth/url")
    fits(shown, auth.json())
    same(shown, auth.json(), "expiresIn", "scopes")
    assert auth.json()["url"].split("?")[0].endswith("/oauth/authorize")

    location, _ = await approve(auth.json()["url"])
    connected = await client.get(location)  # the browser comes back with no credentials
    # seed 003 labels it "Response (JSON if no success_url)"
    shown = example("GET", "/api/vercel/auth/callback", "Query Parameters")
    fits(shown, connected.json())
    same(shown, connected.json(), "success", "scopes")
    assert connected.json()["scopes"] == SCOPES

    replayed = await client.get(location)
    shown = example("GET", "/api/vercel/auth/callback", "Error Response")
    body = assert_error(replayed, 400, shown["code"], dialect="metamorph")
    same(shown, body, "error", "code")

    status = await client.get("/api/vercel/auth/status", headers=VAULT)
    shown = example("GET", "/api/vercel/auth/status")
    fits(shown, status.json())
    same(shown, status.json(), "connected")
    same(shown["activeConnection"], status.json()["activeConnection"], "status", "scopes")

    # the seed's body names a connection by id: its made-up one is not this vault's
    request = example("DELETE", "/api/vercel/auth/disconnect", "Request Body")
    foreign = await client.request(
        "DELETE", "/api/vercel/auth/disconnect", json=request, headers=VAULT
    )
    assert_error(foreign, 404, "NOT_FOUND", dialect="metamorph")
    own = {"connectionId": status.json()["activeConnection"]["id"]}
    done = await client.request("DELETE", "/api/vercel/auth/disconnect", json=own, headers=VAULT)
    shown = example("DELETE", "/api/vercel/auth/disconnect")
    fits(shown, done.json())
    same(shown, done.json(), "success")
