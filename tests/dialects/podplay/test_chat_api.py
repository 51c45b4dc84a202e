"""PodPlay's Mama Bear chat, history and memories (seed 000) over a real server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from menagerie.app import create_app
from menagerie.core.agents.events import AgentEvent, TextChunk
from menagerie.core.errors import NotFound
from menagerie.dialects.podplay import chat as podplay_chat
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.envelopes import assert_error
from tests.utils.server import client_for

AUTH = {"Authorization": "Bearer test-master-key-0123456789abcdef"}  # conftest's master key
USER = "nathan_sanctuary"


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Platform]]:
    platform = Platform.build(
        settings.model_copy(update={"offline_token_delay_ms": 0, "rate_limits_enabled": False})
    )
    async with client_for(create_app(platform=platform)) as client:
        client.base_url = client.base_url.join("/podplay")
        client.headers.update(AUTH)
        yield client, platform


async def chat(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/chat/mama-bear", json={"user_id": USER, **body})
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_documented_example(env: tuple[httpx.AsyncClient, Platform]) -> None:
    client, _ = env
    answer = await chat(
        client,
        message="Help me build a React component",
        session_id="sess_12345",
        context={"current_project": "podplay-frontend", "framework": "react"},
        stream=False,
        model_preference="gemini-2.0-flash",  # not configured here: the default answers
    )
    assert set(answer) == {
        "success",
        "response",
        "session_id",
        "message_id",
        "model_used",
        "tokens_used",
        "cost",
        "timestamp",
        "metadata",
    }
    assert answer["session_id"] == "sess_12345"
    assert answer["model_used"] == "menagerie-offline"
    assert "Help me build a React component" in answer["response"]
    assert answer["tokens_used"] > 0
    assert answer["metadata"]["context_used"] is True
    assert answer["metadata"]["memory_stored"] is False

    again = await chat(client, message="I prefer Tailwind for styling", session_id="sess_12345")
    assert again["metadata"]["memory_stored"] is True

    history = (await client.get("/api/chat/history", params={"user_id": USER})).json()
    assert history["pagination"] == {"total": 2, "limit": 50, "offset": 0, "has_more": False}
    newest = history["messages"][0]
    assert newest["user_message"] == "I prefer Tailwind for styling"
    assert newest["ai_response"] == again["response"]
    assert newest["message_id"] == again["message_id"]
    page = (await client.get("/api/chat/history", params={"user_id": USER, "limit": 1})).json()
    assert page["pagination"]["has_more"] is True
    other_user = (await client.get("/api/chat/history", params={"user_id": "someone"})).json()
    assert other_user["pagination"]["total"] == 0

    deleted = (await client.delete("/api/chat/history/sess_12345", params={"user_id": USER})).json()
    assert deleted == {
        "success": True,
        "message": "Session deleted successfully",
        "session_id": "sess_12345",
    }
    assert (await client.get("/api/chat/history", params={"user_id": USER})).json()["pagination"][
        "total"
    ] == 0


async def test_streaming_answer(env: tuple[httpx.AsyncClient, Platform]) -> None:
    client, _ = env
    events: list[Any] = []
    async with client.stream(
        "POST", "/api/chat/mama-bear", json={"message": "hello", "user_id": USER, "stream": True}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                data = line.removeprefix("data: ")
                events.append(data if data == "[DONE]" else json.loads(data))
    assert events[-1] == "[DONE]"
    chunks = [e["content"] for e in events[:-1] if e["type"] == "chunk"]
    complete = events[-2]
    assert complete["type"] == "complete"
    assert complete["response"] == "".join(chunks).strip()


async def test_memories_store_and_search(env: tuple[httpx.AsyncClient, Platform]) -> None:
    client, _ = env
    stored = await client.post(
        "/api/chat/store-memory",
        json={
            "user_id": USER,
            "content": "User prefers React with TypeScript and uses Tailwind for styling",
            "category": "preferences",
            "metadata": {"importance": "high", "tags": ["react", "typescript", "tailwind"]},
        },
    )
    assert stored.status_code == 200
    body = stored.json()
    assert body["success"] is True
    assert body["memory_id"].startswith("mem_")
    await client.post(
        "/api/chat/store-memory",
        json={"user_id": USER, "content": "Has a dog called Rex", "category": "personal"},
    )
    found = (
        await client.get("/api/chat/memories", params={"user_id": USER, "search": "typescript"})
    ).json()["memories"]
    assert [m["memory_id"] for m in found] == [body["memory_id"]]
    assert 0 < found[0]["relevance_score"] <= 1
    assert found[0]["metadata"]["tags"] == ["react", "typescript", "tailwind"]
    by_category = (
        await client.get("/api/chat/memories", params={"user_id": USER, "category": "personal"})
    ).json()["memories"]
    assert [m["content"] for m in by_category] == ["Has a dog called Rex"]
    someone_else = (
        await client.get("/api/chat/memories", params={"user_id": "someone", "search": "react"})
    ).json()["memories"]
    assert someone_else == []


async def test_bad_input_and_other_tenants(env: tuple[httpx.AsyncClient, Platform]) -> None:
    client, platform = env
    empty = await client.post("/api/chat/mama-bear", json={"message": "", "user_id": USER})
    assert empty.status_code == 422
    assert empty.json()["error_code"] == "INVALID_INPUT"
    too_long = await client.post("/api/chat/mama-bear", json={"message": "x" * 10_001})
    assert too_long.status_code == 413
    await chat(client, message="hi", session_id="conv-1")
    issued = await platform.api_tokens.issue_for_tenant("acme", "acme admin")
    acme = {"Authorization": f"Bearer {issued.token}"}
    gone = await client.delete("/api/chat/history/conv-1", headers=acme)
    assert gone.status_code == 404
    history = (await client.get("/api/chat/history", params={"user_id": USER}, headers=acme)).json()
    assert history["pagination"]["total"] == 0
    # their chat with the same conversation id is theirs, never a view into ours
    taken = await client.post(
        "/api/chat/mama-bear", json={"message": "hi", "session_id": "conv-1"}, headers=acme
    )
    body = assert_error(taken, 409, "INVALID_INPUT", dialect="podplay")
    assert body["details"]["reason"] == "SESSION_ID_TAKEN"


@pytest.mark.parametrize("path", ["/api/chat/history", "/api/chat/memories"])
async def test_user_id_is_required(env: tuple[httpx.AsyncClient, Platform], path: str) -> None:
    client, _ = env
    body = assert_error(await client.get(path), 422, "INVALID_INPUT", dialect="podplay")
    assert body["details"]["field"] == "user_id"
    assert (await client.get(path, params={"user_id": USER})).status_code == 200


async def test_confidence_is_a_number_that_says_not_measured(
    env: tuple[httpx.AsyncClient, Platform],
) -> None:
    client, _ = env
    answer = await chat(client, message="hello")
    # no model reports a confidence: the documented sentinel, never null, never made up
    assert answer["metadata"]["confidence"] == -1.0


async def test_stream_errors_speak_the_seeds_codes() -> None:
    async def failing() -> AsyncIterator[AgentEvent]:
        yield TextChunk("partial")
        raise NotFound("no such session", reason="SESSION_NOT_FOUND")

    events = [line async for line in podplay_chat._stream(failing(), context_used=False)]
    error = json.loads(events[-1].removeprefix("data: "))
    assert error["type"] == "error"
    assert error["error_code"] == "RESOURCE_NOT_FOUND"
    assert error["details"] == {"reason": "SESSION_NOT_FOUND"}
    assert error["retryable"] is False
