"""MADACE agents and chat v3 (seed 001) over a real server: the documented examples replayed,
the SSE stream read as a client reads it, history filters, memory and prune, tenancy."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.server import client_for

AUTH = {"Authorization": "Bearer test-master-key-0123456789abcdef"}  # conftest's master key
BASE = "/madace/api/v3/chat"
AGENT = "chat-assistant-001"


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Platform]]:
    platform = Platform.build(
        settings.model_copy(update={"offline_token_delay_ms": 0, "rate_limits_enabled": False})
    )
    async with client_for(create_app(platform=platform)) as client:
        client.headers.update(AUTH)
        yield client, platform


async def new_session(client: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    response = await client.post(
        f"{BASE}/sessions", json={"userId": "default-user", "agentId": AGENT, **extra}
    )
    assert response.status_code == 201, response.text
    return response.json()["session"]


async def read_stream(client: httpx.AsyncClient, body: dict[str, Any]) -> list[Any]:
    events: list[Any] = []
    async with client.stream("POST", f"{BASE}/stream", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                payload = line.removeprefix("data: ")
                events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


async def test_agents_list_and_detail(env: tuple[httpx.AsyncClient, Platform]) -> None:
    client, _ = env
    listed = (await client.get("/madace/api/agents")).json()["agents"]
    names = {agent["name"] for agent in listed}
    assert {"pm", "analyst", "architect", "sm", "dev", AGENT} <= names
    assert set(listed[0]) == {"name", "version", "title", "module", "description"}
    pm = (await client.get("/madace/api/agents/pm")).json()
    assert pm["title"] == "MADACE Product Manager"
    assert pm["persona"]["critical_actions"] == ["Assess project scale before proposing solutions"]
    assert pm["menu"][0]["trigger"] == "*plan-project"
    assert set(pm) >= {"persona", "menu", "prompts", "auto_load"}
    missing = await client.get("/madace/api/agents/nobody")
    assert missing.status_code == 404
    body = missing.json()
    assert body["error"] == "AGENT_NOT_FOUND"
    assert "pm" in body["details"]


async def test_session_crud_as_documented(env: tuple[httpx.AsyncClient, Platform]) -> None:
    client, _ = env
    session = await new_session(client, metadata={"source": "web-ui"})
    assert set(session) == {
        "id",
        "userId",
        "agentId",
        "startedAt",
        "endedAt",
        "metadata",
        "createdAt",
        "updatedAt",
    }
    assert session["userId"] == "default-user"
    assert session["metadata"] == {"source": "web-ui"}
    assert session["startedAt"].endswith("Z")

    listed = (
        await client.get(
            f"{BASE}/sessions", params={"userId": "default-user", "agentId": AGENT, "active": True}
        )
    ).json()
    assert listed["total"] == 1
    assert listed["sessions"][0]["messageCount"] == 0
    assert (listed["limit"], listed["offset"]) == (50, 0)

    detail = (await client.get(f"{BASE}/sessions/{session['id']}")).json()["session"]
    assert detail["agent"]["id"] == AGENT
    assert detail["agent"]["icon"]

    await client.post(
        f"{BASE}/sessions/{session['id']}/messages", json={"role": "user", "content": "hi"}
    )
    deleted = (await client.delete(f"{BASE}/sessions/{session['id']}")).json()
    assert deleted == {
        "success": True,
        "message": "Session deleted successfully",
        "deletedMessages": 1,
    }
    gone = await client.get(f"{BASE}/sessions/{session['id']}")
    assert gone.status_code == 404
    assert gone.json()["error"] == "SESSION_NOT_FOUND"

    unknown_agent = await client.post(
        f"{BASE}/sessions", json={"userId": "default-user", "agentId": "nobody"}
    )
    assert unknown_agent.status_code == 404
    assert unknown_agent.json()["error"] == "AGENT_NOT_FOUND"
    no_user = await client.post(f"{BASE}/sessions", json={"agentId": AGENT})
    assert no_user.status_code == 400


async def test_messages_threads_and_limits(env: tuple[httpx.AsyncClient, Platform]) -> None:
    client, _ = env
    session = await new_session(client)
    url = f"{BASE}/sessions/{session['id']}/messages"
    posted = await client.post(
        url, json={"role": "user", "content": "Tell me a joke about programming"}
    )
    assert posted.status_code == 201
    root = posted.json()["message"]
    assert set(root) == {"id", "sessionId", "role", "content", "replyToId", "timestamp", "metadata"}
    reply = (
        await client.post(url, json={"role": "agent", "content": "Bugs!", "replyToId": root["id"]})
    ).json()["message"]
    assert reply["replyToId"] == root["id"]
    for i in range(3):
        await client.post(url, json={"role": "user", "content": f"more {i}"})

    everything = (await client.get(url)).json()
    assert (everything["total"], everything["hasMore"]) == (5, False)
    page = (await client.get(url, params={"limit": 2, "offset": 2})).json()
    assert [m["content"] for m in page["messages"]] == ["more 0", "more 1"]
    assert page["hasMore"] is True
    thread = (await client.get(url, params={"threadId": root["id"]})).json()
    assert [m["id"] for m in thread["messages"]] == [root["id"], reply["id"]]
    after = (await client.get(url, params={"after": root["timestamp"]})).json()
    assert root["id"] not in {m["id"] for m in after["messages"]}

    too_long = await client.post(url, json={"role": "user", "content": "x" * 10_001})
    assert too_long.status_code == 413
    assert too_long.json()["error"] == "MESSAGE_TOO_LONG"
    bad_role = await client.post(url, json={"role": "system", "content": "x"})
    assert bad_role.status_code == 400
    assert bad_role.json()["error"] == "INVALID_ROLE"
    over = await client.get(url, params={"limit": 201})
    assert over.status_code == 400
    missing = await client.post(
        f"{BASE}/sessions/sess_missing/messages", json={"role": "user", "content": "x"}
    )
    assert missing.status_code == 404
    assert missing.json()["error"] == "SESSION_NOT_FOUND"


async def test_stream_answers_the_last_message(env: tuple[httpx.AsyncClient, Platform]) -> None:
    client, _ = env
    session = await new_session(client)
    await client.post(
        f"{BASE}/sessions/{session['id']}/messages",
        json={"role": "user", "content": "Hello, my name is Ada and I prefer TypeScript."},
    )
    events = await read_stream(client, {"sessionId": session["id"], "agentId": AGENT})
    assert events[-1] == "[DONE]"
    chunks = [e["content"] for e in events if isinstance(e, dict) and e["type"] == "chunk"]
    assert len(chunks) > 1
    memories = [e for e in events if isinstance(e, dict) and e["type"] == "memory"]
    assert {"type": "memory", "category": "personal_info", "key": "name", "value": "Ada"} in (
        memories
    )
    messages = (await client.get(f"{BASE}/sessions/{session['id']}/messages")).json()["messages"]
    assert [m["role"] for m in messages] == ["user", "agent"]
    assert messages[1]["content"] == "".join(chunks).strip()
    assert messages[1]["metadata"]["model"] == "menagerie-offline"
    assert messages[1]["metadata"]["tokens"] > 0


async def test_stream_refusals_are_http_errors(env: tuple[httpx.AsyncClient, Platform]) -> None:
    client, _ = env
    session = await new_session(client)
    nothing = await client.post(
        f"{BASE}/stream", json={"sessionId": session["id"], "agentId": AGENT}
    )
    assert nothing.status_code == 400
    unknown = await client.post(f"{BASE}/stream", json={"sessionId": "sess_x", "agentId": AGENT})
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "SESSION_NOT_FOUND"


async def test_memory_save_list_and_prune(env: tuple[httpx.AsyncClient, Platform]) -> None:
    client, _ = env
    session = await new_session(client)
    url = f"{BASE}/sessions/{session['id']}/memory"
    saved = await client.post(
        url,
        json={
            "category": "user_preferences",
            "key": "timezone",
            "value": "America/Los_Angeles",
            "context": "User mentioned Pacific time",
            "importance": 0.7,
            "expiresAt": "2099-12-31T23:59:59Z",
        },
    )
    assert saved.status_code == 201
    memory = saved.json()["memory"]
    assert memory["expiresAt"] == "2099-12-31T23:59:59.000Z"
    assert (memory["agentId"], memory["sessionId"]) == (AGENT, session["id"])
    for value in (42, True, {"nested": ["json"]}):
        await client.post(url, json={"category": "facts", "key": f"k{value!s}", "value": value})
    await client.post(url, json={"category": "facts", "key": "low", "value": 1, "importance": 0.1})

    listed = (await client.get(url)).json()
    assert listed["total"] == 5
    values = {m["key"]: m["value"] for m in listed["memory"]}
    assert values["k42"] == 42
    assert values["k{'nested': ['json']}"] == {"nested": ["json"]}
    prefs = (await client.get(url, params={"category": "user_preferences"})).json()
    assert [m["key"] for m in prefs["memory"]] == ["timezone"]

    pruned = (await client.delete(url, params={"importanceLessThan": 0.3})).json()
    assert pruned == {"success": True, "message": "Memory pruned successfully", "deletedCount": 1}
    by_category = (await client.delete(url, params={"category": "facts"})).json()
    assert by_category["deletedCount"] == 3
    assert (await client.get(url)).json()["total"] == 1

    bad = await client.post(url, json={"category": "x", "key": "k", "value": 1, "importance": 2})
    assert bad.status_code == 400
    assert "importance" in bad.json()["details"]


async def test_prune_reads_an_offset_whose_plus_arrived_as_a_space(
    env: tuple[httpx.AsyncClient, Platform],
) -> None:
    """The seed's cron example sends `olderThan=$(date -Iseconds)` unencoded: `+00:00` is
    read from the query as ` 00:00`, which is still the offset the caller meant."""
    client, _ = env
    session = await new_session(client)
    url = f"{BASE}/sessions/{session['id']}/memory"
    await client.post(url, json={"category": "facts", "key": "old", "value": 1})
    raw = f"{url}?olderThan=2000-01-01T00:00:00+00:00"  # httpx sends the `+` as it is
    kept = await client.delete(raw)
    assert (kept.status_code, kept.json()["deletedCount"]) == (200, 0), kept.text
    gone = await client.delete(f"{url}?olderThan=2999-01-01T00:00:00+05:30")
    assert (gone.status_code, gone.json()["deletedCount"]) == (200, 1), gone.text
    refused = await client.delete(f"{url}?olderThan=2999-01-01T00:00:00+5")
    assert refused.status_code == 400


async def test_a_second_tenant_gets_404(env: tuple[httpx.AsyncClient, Platform]) -> None:
    client, platform = env
    session = await new_session(client)
    await client.post(
        f"{BASE}/sessions/{session['id']}/memory",
        json={"category": "facts", "key": "k", "value": "ours"},
    )
    issued = await platform.api_tokens.issue_for_tenant("acme", "acme admin")
    acme = {"Authorization": f"Bearer {issued.token}"}
    for method, path in (
        ("GET", f"{BASE}/sessions/{session['id']}"),
        ("DELETE", f"{BASE}/sessions/{session['id']}"),
        ("GET", f"{BASE}/sessions/{session['id']}/messages"),
        ("GET", f"{BASE}/sessions/{session['id']}/memory"),
        ("DELETE", f"{BASE}/sessions/{session['id']}/memory"),
    ):
        response = await client.request(method, path, headers=acme)
        assert response.status_code == 404, (method, path)
    listed = (
        await client.get(f"{BASE}/sessions", params={"userId": "default-user"}, headers=acme)
    ).json()
    assert listed["total"] == 0
    assert (await client.get(f"{BASE}/sessions/{session['id']}/memory")).json()["total"] == 1
