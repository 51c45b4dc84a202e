"""Metamorph's vault-scoped sessions and memories (seed 003) over a real server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import jwt as pyjwt
import pytest
from pydantic import SecretStr

from menagerie.app import create_app
from menagerie.core.clock import utcnow
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.envelopes import assert_error
from tests.utils.http import bearer
from tests.utils.server import client_for

SECRET = "metamorph-vault-secret-0123456789abcdef"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def vault(vault_id: str) -> dict[str, str]:
    now = utcnow()
    token = pyjwt.encode(
        {
            "vaultId": vault_id,
            "sub": f"user-of-{vault_id}",
            "iat": now,
            "exp": now + timedelta(minutes=5),
        },
        SECRET,
        algorithm="HS256",
    )
    return bearer(token)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    platform = Platform.build(settings.model_copy(update={"vault_jwt_secret": SecretStr(SECRET)}))
    async with client_for(create_app(platform=platform)) as client:
        client.base_url = client.base_url.join("/metamorph")
        yield client


async def test_sessions_as_documented(client: httpx.AsyncClient) -> None:
    mine = vault("my-vault")
    created = await client.post("/api/sessions", json={"name": "My New Session"}, headers=mine)
    assert created.status_code == 201
    session = created.json()
    assert set(session) == {"id", "name", "createdAt"}
    assert session["name"] == "My New Session"
    assert ISO_MS.match(session["createdAt"])

    listed = (await client.get("/api/sessions", headers=mine)).json()
    assert listed["vaultId"] == "my-vault"
    assert [s["id"] for s in listed["sessions"]] == [session["id"]]
    assert set(listed["sessions"][0]) == {"id", "name", "createdAt", "lastAccessed"}
    detail = (await client.get(f"/api/sessions/{session['id']}", headers=mine)).json()
    assert detail["messageCount"] == 0

    deleted = (await client.delete(f"/api/sessions/{session['id']}", headers=mine)).json()
    assert deleted["success"] is True
    assert ISO_MS.match(deleted["deletedAt"])
    gone = await client.get(f"/api/sessions/{session['id']}", headers=mine)
    assert_error(gone, 404, "NOT_FOUND", dialect="metamorph")


async def test_memories_as_documented(client: httpx.AsyncClient) -> None:
    mine = vault("my-vault")
    created = await client.post(
        "/api/memories",
        json={
            "type": "semantic",
            "content": "Important information to remember",
            "importance": 0.8,
            "metadata": {"source": "user-input"},
        },
        headers=mine,
    )
    assert created.status_code == 201
    memory = created.json()
    assert set(memory) == {"id", "type", "content", "importance", "createdAt"}
    assert memory["id"].startswith("mem_")
    await client.post(
        "/api/memories",
        json={"type": "episodic", "content": "met on Monday", "importance": 0.2},
        headers=mine,
    )

    everything = (await client.get("/api/memories", headers=mine)).json()
    assert everything["total"] == 2
    assert everything["vaultId"] == "my-vault"
    semantic = (await client.get("/api/memories", params={"type": "semantic"}, headers=mine)).json()
    assert [m["content"] for m in semantic["memories"]] == ["Important information to remember"]
    important = (
        await client.get("/api/memories", params={"minImportance": 0.5}, headers=mine)
    ).json()
    assert [m["type"] for m in important["memories"]] == ["semantic"]
    one = (await client.get("/api/memories", params={"limit": 1}, headers=mine)).json()
    assert len(one["memories"]) == 1

    bad_type = await client.post(
        "/api/memories", json={"type": "dream", "content": "x"}, headers=mine
    )
    assert_error(bad_type, 400, "INVALID_TYPE", dialect="metamorph")
    deleted = (await client.delete(f"/api/memories/{memory['id']}", headers=mine)).json()
    assert deleted["success"] is True
    again = await client.delete(f"/api/memories/{memory['id']}", headers=mine)
    assert (
        "MEMORY_NOT_FOUND" in assert_error(again, 404, "NOT_FOUND", dialect="metamorph")["details"]
    )


async def test_vaults_see_only_their_own(client: httpx.AsyncClient) -> None:
    mine, theirs = vault("my-vault"), vault("other-vault")
    session = (await client.post("/api/sessions", json={"name": "s"}, headers=mine)).json()
    memory = (await client.post("/api/memories", json={"content": "ours"}, headers=mine)).json()
    assert (await client.get(f"/api/sessions/{session['id']}", headers=theirs)).status_code == 404
    assert (
        await client.delete(f"/api/sessions/{session['id']}", headers=theirs)
    ).status_code == 404
    assert (await client.delete(f"/api/memories/{memory['id']}", headers=theirs)).status_code == 404
    assert (await client.get("/api/sessions", headers=theirs)).json()["sessions"] == []
    assert (await client.get("/api/memories", headers=theirs)).json()["total"] == 0
    assert (await client.get("/api/memories", headers=mine)).json()["total"] == 1
    missing = await client.get("/api/sessions")
    assert_error(missing, 401, "MISSING_TOKEN", dialect="metamorph")


async def test_error_codes_are_seed_003s(client: httpx.AsyncClient) -> None:
    """Codes the envelope once made up (INVALID_JSON, METHOD_NOT_ALLOWED) are the seed's
    patterns now; the precise reason rides in details."""
    mine = vault("my-vault")
    broken = await client.post(
        "/api/memories",
        content=b"{not json",
        headers={**mine, "Content-Type": "application/json"},
    )
    assert_error(broken, 400, "INVALID_BODY", dialect="metamorph")
    missing = await client.post("/api/memories", json={"type": "semantic"}, headers=mine)
    assert_error(missing, 400, "MISSING_CONTENT", dialect="metamorph")
    wrong_method = await client.put("/api/sessions", headers=mine)
    assert_error(wrong_method, 405, "INVALID_METHOD", dialect="metamorph")
    unknown_agent = await client.post("/api/sessions", json={"agentId": "nobody"}, headers=mine)
    body = assert_error(unknown_agent, 404, "NOT_FOUND", dialect="metamorph")
    assert "AGENT_NOT_FOUND" in body["details"]
