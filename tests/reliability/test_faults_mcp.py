"""An MCP server killed (SIGKILL) while one of its tools is being called, over a real server.

The server is a real stdio MCP server (`faults_mcp_server.py`), installed through PodPlay's
API and started by Menagerie under its sandbox. Its `hang` tool is called through
`POST /podplay/api/mcp/execute/{server}`, and once the server says the call began the test
kills its process. The call answers at once with PodPlay's 503 `MCP_SERVER_OFFLINE` (no hang,
no 500), the server's status goes offline and back to running (the supervisor restarts it),
and the next call works.
"""

from __future__ import annotations

import asyncio
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
from menagerie.core.tools.events import ServerStatusChanged
from menagerie.core.tools.service import STATUS_TOPIC
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.mcp_servers import descendants, eventually
from tests.utils.server import serve

TOKEN = "test-master-key-0123456789abcdef"
NAME = "faults-mcp"
SCRIPT = Path(__file__).with_name("faults_mcp_server.py")
WAIT_S = 60.0  # a bound on waiting on a loaded machine, never a measurement

Env = tuple[httpx.AsyncClient, Platform]


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    catalog = {
        "version": 1,
        "servers": [
            {
                "name": NAME,
                "description": "a server the fault tests kill mid-call",
                "category": "development",
                "author": "Menagerie tests",
                "command": sys.executable,
                "args": ["-P", str(SCRIPT)],
                "configuration_schema": {"type": "object", "properties": {}},
            }
        ],
    }
    (data_dir / "mcp_servers.json").write_text(json.dumps(catalog))
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}",
        master_key=TOKEN,
        dev_mode=False,
        rate_limits_enabled=False,
        mcp_health_interval_s=0.5,
        _env_file=None,
    )
    platform = Platform.build(settings)
    async with (
        serve(create_app(platform=platform)) as url,
        httpx.AsyncClient(
            base_url=f"{url}/podplay",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=WAIT_S,
        ) as client,
    ):
        yield client, platform


async def installed(client: httpx.AsyncClient) -> dict[str, Any]:
    listed = await client.get("/api/mcp/installed")
    assert listed.status_code == 200, listed.text
    [server] = [s for s in listed.json()["servers"] if s["server_name"] == NAME]
    return server


async def execute(client: httpx.AsyncClient, tool: str) -> httpx.Response:
    return await client.post(f"/api/mcp/execute/{NAME}", json={"tool_name": tool})


def server_pid() -> int:
    """The Python process of the MCP server (below this process, inside its sandbox)."""
    found = [
        pid
        for pid, command in descendants().items()
        if str(SCRIPT) in command and command.split(" ", 1)[0].rsplit("/", 1)[-1].startswith("py")
    ]
    assert len(found) == 1, descendants()
    return found[0]


async def test_a_server_killed_mid_call_answers_offline_then_comes_back(env: Env) -> None:
    client, platform = env
    install = await client.post("/api/mcp/install", json={"server_name": NAME, "configuration": {}})
    assert install.status_code in (200, 201, 202), install.text
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while (server := await installed(client))["status"] != "running":
        assert server["status"] not in ("failed",), server
        assert asyncio.get_running_loop().time() < deadline, server
        await asyncio.sleep(0.1)
    ping = await execute(client, "ping")
    assert ping.status_code == 200, ping.text
    assert ping.json()["success"] is True

    statuses = await platform.events.subscribe(STATUS_TOPIC)
    workdirs = platform.mcp.settings.root
    call = asyncio.create_task(execute(client, "hang"))
    await eventually(
        lambda: any(workdirs.glob("*/hanging")) or call.done(),
        within=WAIT_S,
        what="the hanging call to begin",
    )
    assert not call.done(), call.result().text
    victim = server_pid()
    os.kill(victim, signal.SIGKILL)

    answer = await asyncio.wait_for(call, WAIT_S)  # answered, not left hanging
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert (body["success"], body["error_code"]) == (False, "MCP_SERVER_OFFLINE")
    assert NAME in body["error"]
    assert "Traceback" not in answer.text

    seen: list[str] = []
    while "offline" not in seen or "running" not in seen[seen.index("offline") :]:
        event = await statuses.get(within=WAIT_S)
        assert event is not None, f"status events so far: {seen}"
        seen.append(ServerStatusChanged.from_payload(event.payload).status)

    await eventually(lambda: server_pid_or_none() not in (None, victim), within=WAIT_S)
    again = await execute(client, "ping")
    assert again.status_code == 200, again.text
    assert again.json()["success"] is True
    assert "pong" in json.dumps(again.json()["result"])
    server = await installed(client)
    assert server["status"] == "running"
    assert platform.mcp.sessions(platform.settings.default_tenant)[0].restarts >= 1


def server_pid_or_none() -> int | None:
    try:
        return server_pid()
    except AssertionError:
        return None
