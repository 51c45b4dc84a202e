"""Operational events over real transports: an MCP server's process killed for real raises
the MCP-offline alert, heard as `system_alert` by Crazy Gary's socket.io clients and on its
SSE event stream; a change of the server's health reaches the operator's admins as
`health_status` (and not a plain member of the tenant)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from menagerie.app import create_app
from menagerie.core.ops.alerts import Thresholds
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.mcp_servers import PACKAGES_DIR, eventually, pids_running
from tests.utils.principals import admin
from tests.utils.server import serve
from tests.utils.socket_events import EventClient

TOKEN = "test-master-key-0123456789abcdef"  # conftest's master key: the operator's admin
SEED_SERVER = Path(__file__).parents[1] / "utils" / "mcp_seed_server.py"
GITHUB = "github"
# no machine alert (CPU, memory, disk) gets in the way of the ones under test
QUIET = Thresholds(cpu_percent=100, memory_percent=100, disk_percent=100, error_rate=1)


@pytest.fixture
def database_url(tmp_path) -> str:  # the transports are the point: one engine
    return f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}"


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[tuple[str, Platform]]:
    catalogue = {
        "version": 1,
        "servers": [{"name": GITHUB, "command": sys.executable, "args": ["-P", str(SEED_SERVER)]}],
    }
    (settings.data_dir / "mcp_servers.json").write_text(json.dumps(catalogue))
    changes = {
        "rate_limits_enabled": False,
        "mcp_packages_dir": PACKAGES_DIR,
        "mcp_health_interval_s": 0.3,
        "alert_interval_s": 600,  # only the MCP status change may trigger the check
    }
    platform = Platform.build(settings.model_copy(update=changes))
    assert platform.alerts is not None
    platform.alerts.thresholds = QUIET
    async with serve(create_app(platform=platform)) as base:
        yield base, platform


async def gary_client(base: str, token: str = TOKEN) -> EventClient:
    client = EventClient()
    await client.sio.connect(base, socketio_path="gary/socket.io", auth={"token": token})
    return client


async def sse_events(base: str, into: list[dict[str, Any]], opened: asyncio.Event) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        httpx.AsyncClient(base_url=f"{base}/gary", timeout=30) as http,
        http.stream("GET", "/api/observability/events/stream", headers=headers) as response,
    ):
        assert response.status_code == 200
        opened.set()
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                into.append(json.loads(line.removeprefix("data: ")))


async def test_a_killed_mcp_server_raises_system_alert_on_socketio_and_sse(
    served: tuple[str, Platform],
) -> None:
    base, platform = served
    me = admin(platform)
    await platform.mcp.install(me, GITHUB, {})
    for _ in range(600):
        if (await platform.mcp.installation(me, GITHUB)).status == "running":
            break
        await asyncio.sleep(0.1)
    assert platform.alerts is not None
    assert await platform.alerts.check() == []  # running: nothing to say

    gary = await gary_client(base)
    streamed: list[dict[str, Any]] = []
    opened = asyncio.Event()
    reader = asyncio.create_task(sse_events(base, streamed, opened))
    try:
        await asyncio.wait_for(opened.wait(), 10)
        await asyncio.sleep(0.3)  # the relays and the journal subscribe as the server starts
        [pid] = pids_running("mcp_seed_server")
        os.kill(pid, signal.SIGKILL)

        heard = await gary.next("system_alert", component=GITHUB)
        assert heard["type"] == "mcp"
        assert heard["severity"] == "high"
        assert heard["message"].startswith(f"MCP server {GITHUB} is offline")
        assert "tenant_id" not in heard
        await eventually(
            lambda: any(
                e["event"] == "system_alert" and e["data"]["id"] == heard["id"] for e in streamed
            ),
            within=10,
            what="the alert on the SSE stream",
        )
        # the server comes back (the supervisor restarts it): the next check clears the alert
        await eventually(lambda: bool(pids_running("mcp_seed_server")), within=30)
        for _ in range(300):
            sessions = platform.mcp.sessions(me.tenant_id)
            if sessions and sessions[0].state == "running":
                break
            await asyncio.sleep(0.1)
        await platform.alerts.check()
        assert [a for a in platform.alerts.active(me) if a.type == "mcp"] == []
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await gary.sio.disconnect()


async def test_health_changes_reach_the_operators_admins_as_health_status(
    served: tuple[str, Platform],
) -> None:
    base, platform = served
    watch = platform.health_watch
    assert watch is not None
    operator = await gary_client(base)
    # a plain member of the operator's tenant: not told the server's health
    async with httpx.AsyncClient(base_url=f"{base}/gary") as http:
        registered = await http.post(
            "/api/auth/register",
            json={"email": "m@example.com", "password": "Correct-Horse-9x", "name": "M"},
        )
    assert registered.status_code == 201, registered.text
    member = await gary_client(base, registered.json()["token"])
    try:
        await asyncio.sleep(0.3)
        await watch.check()  # the baseline: nothing changed yet
        await platform.worker.stop()  # a real change: the worker is not running
        change = await watch.check()
        assert change is not None
        heard = await operator.next("health_status")
        assert heard["status"] == change.status == "degraded"
        assert heard["previous_status"] == "healthy"
        assert heard["service"] == "crazy-gary"
        assert heard["components"]["worker"] == "unhealthy"
        assert heard["changed"] == ["overall", "worker"]
        assert heard["timestamp"].endswith("Z") or "+" in heard["timestamp"]
        assert await watch.check() is None  # no change, no event

        await platform.worker.start()
        for _ in range(50):  # healthy again once its first heartbeat is in
            if await watch.check() is not None:
                break
            await asyncio.sleep(0.1)
        back = await operator.next("health_status")
        assert (back["status"], back["components"]["worker"]) == ("healthy", "healthy")
        assert not [name for name, _ in member.heard if name == "health_status"]
    finally:
        await operator.sio.disconnect()
        await member.sio.disconnect()


async def test_tasks_are_on_the_event_stream(served: tuple[str, Platform]) -> None:
    base, platform = served
    me = admin(platform)
    streamed: list[dict[str, Any]] = []
    opened = asyncio.Event()
    reader = asyncio.create_task(sse_events(base, streamed, opened))
    try:
        await asyncio.wait_for(opened.wait(), 10)
        await asyncio.sleep(0.3)  # the journal subscribes as the server starts
        task = await platform.agent_tasks.create(
            me, agent="gary", title="hello", description="say hi", model=None, priority="low"
        )
        await platform.agent_tasks.start(me, task.id)

        def names() -> list[str]:
            return [e["event"] for e in streamed if e["data"].get("task_id") == task.id]

        await eventually(lambda: "task_completed" in names(), within=20, what="task_completed")
        assert names()[:2] == ["task_created", "task_running"]
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
