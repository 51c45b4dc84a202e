"""Crazy Gary's tasks over HTTP: a running task stops on request (seed 004's stop example),
bad input and other users' tasks are refused, and `task_update` reaches only the owner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.dialects.gary.test_seed_replay import check
from tests.utils.http import bearer
from tests.utils.server import client_for
from tests.utils.socket_events import EventClient


@pytest.fixture
async def slow_gary(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Platform]]:
    # the offline model answers at two tokens a second: a task runs long enough to be stopped
    update = {"rate_limits_enabled": False, "offline_token_delay_ms": 500}
    platform = Platform.build(settings.model_copy(update=update))
    async with client_for(create_app(platform=platform)) as client:
        client.base_url = client.base_url.join("/gary")
        yield client, platform


async def _status(client: httpx.AsyncClient, me: dict[str, str], task_id: str) -> Any:
    response = await client.get(f"/api/tasks/{task_id}", headers=me)
    assert response.status_code == 200, response.text
    return response.json()


async def _listen(client: httpx.AsyncClient, token: str) -> EventClient:
    listener = EventClient()
    base = str(client.base_url).removesuffix("/gary")
    await listener.sio.connect(base, socketio_path="gary/socket.io", auth={"token": token})
    return listener


async def test_a_running_task_stops(slow_gary: tuple[httpx.AsyncClient, Platform]) -> None:
    client, platform = slow_gary
    signed_in = await platform.accounts.register("fan@example.com", "SecurePassword123", "Fan")
    other = await platform.accounts.register("other@example.com", "SecurePassword123", "Other")
    me = bearer(signed_in.tokens.access_token)
    owner = await _listen(client, signed_in.tokens.access_token)
    bystander = await _listen(client, other.tokens.access_token)
    body = {"title": "Summarise", "description": "Say something long about the weather"}
    created = await client.post("/api/tasks", headers=me, json=body)
    assert created.status_code == 201, created.text
    task_id = created.json()["task_id"]
    assert (await _status(client, me, task_id))["priority"] == "medium"  # the default

    assert (await client.post(f"/api/tasks/{task_id}/start", headers=me)).status_code == 200
    twice = await client.post(f"/api/tasks/{task_id}/start", headers=me)
    assert twice.status_code == 409
    assert twice.json()["details"]["reason"] == "TASK_NOT_STARTABLE"
    async with asyncio.timeout(10):
        while (await _status(client, me, task_id))["progress"] < 10:
            await asyncio.sleep(0.05)  # the agent turn has begun

    stopped = await client.post(f"/api/tasks/{task_id}/stop", headers=me)
    assert check("POST /api/tasks/{}/stop", stopped, 200) == {"status": "stopped"}
    task = await _status(client, me, task_id)
    assert task["status"] == "stopped"
    assert task["result"] is None

    # the owner heard each change as `task_update`; another user of the tenant heard none
    await owner.next("task_update", task_id=task_id, status="stopped")
    heard = [data for name, data in owner.heard if name == "task_update"]
    assert [data["status"] for data in heard[:2]] == ["created", "running"]
    assert {"task_id", "status", "progress", "title", "error", "updated_at"} <= set(heard[0])
    assert "_audience" not in heard[0]
    assert not [name for name, _ in bystander.heard if name == "task_update"]
    await owner.sio.disconnect()
    await bystander.sio.disconnect()

    stats = (await client.get("/api/stats", headers=me)).json()
    assert stats == {
        "total_tasks": 1,
        "active_tasks": 0,
        "completed_tasks": 0,
        "failed_tasks": 0,
        "average_completion_time": 0.0,
        "success_rate": 0.0,
    }


async def test_bad_input_and_other_users(slow_gary: tuple[httpx.AsyncClient, Platform]) -> None:
    client, platform = slow_gary
    mine = await platform.accounts.register("a@example.com", "SecurePassword123", "A")
    theirs = await platform.accounts.register("b@example.com", "SecurePassword123", "B")
    me, them = bearer(mine.tokens.access_token), bearer(theirs.tokens.access_token)

    missing = await client.post("/api/tasks", headers=me, json={"title": "no description"})
    assert missing.status_code == 400
    assert missing.json()["code"] == "VALIDATION_ERROR"
    odd = await client.post(
        "/api/tasks", headers=me, json={"title": "t", "description": "d", "priority": "urgent"}
    )
    assert odd.status_code == 400

    created = (
        await client.post("/api/tasks", headers=me, json={"title": "t", "description": "d"})
    ).json()
    for method, path in (
        ("GET", f"/api/tasks/{created['task_id']}"),
        ("POST", f"/api/tasks/{created['task_id']}/start"),
        ("POST", f"/api/tasks/{created['task_id']}/stop"),
        ("POST", "/api/tasks/task_nope/start"),
    ):
        refused = await client.request(method, path, headers=them)
        assert refused.status_code == 404, (method, path, refused.text)
        assert refused.json()["code"] == "TASK_NOT_FOUND"
    assert (await client.get("/api/tasks", headers=them)).json() == []
    assert (await client.get("/api/stats", headers=them)).json()["total_tasks"] == 0
    unauthenticated = await client.post("/api/tasks", json={"title": "t", "description": "d"})
    assert unauthenticated.status_code == 401
