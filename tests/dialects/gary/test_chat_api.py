"""Crazy Gary's `POST /api/chat` (seed 004): an agent turn recorded as a task."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.http import bearer
from tests.utils.server import client_for

PASSWORD = "Correct-Horse-Battery-9"


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Platform]]:
    platform = Platform.build(
        settings.model_copy(update={"offline_token_delay_ms": 0, "rate_limits_enabled": False})
    )
    async with client_for(create_app(platform=platform)) as client:
        client.base_url = client.base_url.join("/gary")
        yield client, platform


async def sign_up(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post(
        "/api/auth/register", json={"email": email, "password": PASSWORD, "name": "Gary Fan"}
    )
    assert response.status_code == 201, response.text
    return bearer(response.json()["token"])


async def test_chat_answers_and_records_a_task(env: tuple[httpx.AsyncClient, Platform]) -> None:
    client, _ = env
    me = await sign_up(client, "fan@example.com")
    answered = await client.post(
        "/api/chat",
        json={
            "message": "What can you help me with?",
            "context": "I'm working on a Python web application",
        },
        headers=me,
    )
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert set(body) == {"response", "task_id"}
    assert "What can you help me with?" in body["response"]

    task = (await client.get(f"/api/tasks/{body['task_id']}", headers=me)).json()
    assert task["status"] == "completed"
    assert task["progress"] == 100
    assert task["result"]["response"] == body["response"]
    assert task["model"] == "menagerie-offline"
    assert task["error"] is None

    second = (await client.post("/api/chat", json={"message": "And then?"}, headers=me)).json()
    listed = (await client.get("/api/tasks", headers=me)).json()
    assert [t["id"] for t in listed] == [second["task_id"], body["task_id"]]
    completed = (await client.get("/api/tasks", params={"status": "failed"}, headers=me)).json()
    assert completed == []
    bad = await client.get("/api/tasks", params={"status": "sleeping"}, headers=me)
    assert bad.status_code == 400


async def test_tasks_are_the_callers_own(env: tuple[httpx.AsyncClient, Platform]) -> None:
    client, platform = env
    me = await sign_up(client, "one@example.com")
    other = await sign_up(client, "two@example.com")
    task_id = (await client.post("/api/chat", json={"message": "hi"}, headers=me)).json()["task_id"]
    assert (await client.get(f"/api/tasks/{task_id}", headers=other)).status_code == 404
    assert (await client.get("/api/tasks", headers=other)).json() == []
    issued = await platform.api_tokens.issue_for_tenant("acme", "acme admin")
    acme = bearer(issued.token)
    assert (await client.get(f"/api/tasks/{task_id}", headers=acme)).status_code == 404
    assert (await client.post("/api/chat", json={"message": ""}, headers=me)).status_code == 400
    assert (await client.post("/api/chat", json={"message": "hi"})).status_code == 401
