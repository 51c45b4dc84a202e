"""PodPlay's maintenance mode over a real server: the operator's admin switches it with
`POST /api/admin/maintenance`, clients hear `maintenance_mode` on socket.io (seed 000), the
affected services answer 503 `SERVICE_UNAVAILABLE` with `estimated_return`, health stays up,
and everything works again once it is off."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import PIPE

import httpx
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.dialects.podplay.replay import assert_like
from tests.utils.http import bearer
from tests.utils.server import serve
from tests.utils.socket_events import EventClient

TOKEN = "test-master-key-0123456789abcdef"  # conftest's master key: the operator's admin
ADMIN = bearer(TOKEN)
SWITCH = "/podplay/api/admin/maintenance"
BACK = "2031-06-03T02:30:00Z"
# seed 000 "System Events"
SEED_MAINTENANCE = {
    "maintenance_active": True,
    "start_time": "2024-06-03T02:00:00Z",
    "estimated_duration": "30 minutes",
    "affected_services": ["mcp_marketplace", "workspaces"],
    "message": "Scheduled maintenance for system upgrades",
}


@pytest.fixture
def database_url(tmp_path) -> str:  # one database is enough: the server is the point
    return f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}"


@dataclass
class Server:
    url: str
    platform: Platform
    http: httpx.AsyncClient


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Server]:
    platform = Platform.build(
        settings.model_copy(update={"offline_token_delay_ms": 0, "rate_limits_enabled": False})
    )
    async with (
        serve(create_app(platform=platform)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        yield Server(url, platform, http)


Listener = EventClient


async def _chat(http: httpx.AsyncClient) -> httpx.Response:
    return await http.post(
        "/podplay/api/chat/mama-bear",
        json={"message": "hello", "user_id": "nathan"},
        headers=ADMIN,
    )


async def test_maintenance_on_refuses_chat_and_workspaces_and_off_restores(
    server: Server,
) -> None:
    http = server.http
    assert (await _chat(http)).status_code == 200
    listener = Listener()
    await listener.sio.connect(server.url, auth={"token": TOKEN}, transports=["websocket"])
    try:
        await listener.next("connected")
        switched = await http.post(
            SWITCH,
            json={
                "enabled": True,
                "message": "Scheduled maintenance for system upgrades",
                "estimated_return": BACK,
                "affected_services": ["chat", "workspaces"],
            },
            headers=ADMIN,
        )
        assert switched.status_code == 200, switched.text
        assert switched.json()["maintenance_active"] is True

        heard = await listener.next("maintenance_mode")
        assert_like(SEED_MAINTENANCE, heard)
        assert heard["affected_services"] == ["chat", "workspaces"]
        assert heard["estimated_return"].startswith("2031-06-03T02:30:00")

        refused = await _chat(http)
        assert refused.status_code == 503
        body = refused.json()
        assert body["success"] is False
        assert body["error_code"] == "SERVICE_UNAVAILABLE"
        assert body["error"] == "Scheduled maintenance for system upgrades"
        assert body["details"]["status"] == "maintenance"
        assert body["details"]["service"] == "chat"
        assert body["details"]["estimated_return"].startswith("2031-06-03T02:30:00")
        assert body["details"]["reason"] == "MAINTENANCE"
        workspaces = await http.get("/podplay/api/workspaces", headers=ADMIN)
        assert workspaces.status_code == 503
        assert workspaces.json()["details"]["service"] == "workspaces"

        # not affected, and never taken down: health, the switch itself
        assert (await http.get("/podplay/api/models", headers=ADMIN)).status_code == 200
        assert (await http.get("/podplay/api/test-connection")).status_code == 200
        state = await http.get(SWITCH, headers=ADMIN)
        assert state.json()["maintenance_active"] is True

        # chat over socket.io is the chat service too
        await listener.sio.emit("mama_bear_message", {"message": "hello"})
        answer = await listener.next("mama_bear_response")
        assert answer["success"] is False
        assert answer["error_code"] == "SERVICE_UNAVAILABLE"

        # a client connecting now hears of it at once
        late = Listener()
        await late.sio.connect(server.url, auth={"token": TOKEN}, transports=["websocket"])
        try:
            assert (await late.next("maintenance_mode"))["maintenance_active"] is True
        finally:
            await late.sio.disconnect()

        off = await http.post(SWITCH, json={"enabled": False}, headers=ADMIN)
        assert off.status_code == 200
        ended = await listener.next("maintenance_mode")
        assert ended["maintenance_active"] is False
        assert (await _chat(http)).status_code == 200
        assert (await http.get("/podplay/api/workspaces", headers=ADMIN)).status_code == 200
    finally:
        await listener.sio.disconnect()


async def test_only_the_operators_admins_switch_it(server: Server) -> None:
    platform, http = server.platform, server.http
    signed_in = await platform.accounts.register("plain@example.com", "SecurePassword123", "p")
    plain = await http.post(
        SWITCH, json={"enabled": True}, headers=bearer(signed_in.tokens.access_token)
    )
    assert plain.status_code == 403
    assert plain.json()["error_code"] == "AUTHENTICATION_REQUIRED"

    # maintenance is server-wide: another tenant's admin may not take the server down
    issued = await platform.api_tokens.issue_for_tenant("acme", "acme admin")
    other = await http.post(SWITCH, json={"enabled": True}, headers=bearer(issued.token))
    assert other.status_code == 403
    assert other.json()["details"]["reason"] == "OPERATOR_REQUIRED"

    assert (await http.get(SWITCH, headers=ADMIN)).json()["maintenance_active"] is False
    assert (await _chat(http)).status_code == 200


MENAGERIE = shutil.which("menagerie", path=str(Path(sys.executable).parent))


async def _menagerie(settings: Settings, *args: str) -> str:
    """The installed command, as an operator runs it on the server's database."""
    assert MENAGERIE is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("MENAGERIE_")}
    env.update(
        MENAGERIE_DATA_DIR=str(settings.data_dir),
        MENAGERIE_DATABASE_URL=settings.database_url or "",
        MENAGERIE_LOG_LEVEL="ERROR",
    )
    process = await asyncio.create_subprocess_exec(
        MENAGERIE, *args, env=env, stdout=PIPE, stderr=PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    return stderr.decode()


async def _until_status(http: httpx.AsyncClient, status: int) -> httpx.Response:
    """The server reads the database again within its refresh (3 s): poll until then."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        response = await http.get("/podplay/api/workspaces", headers=ADMIN)
        if response.status_code == status or asyncio.get_running_loop().time() > deadline:
            return response
        await asyncio.sleep(0.1)


@pytest.mark.skipif(MENAGERIE is None, reason="the menagerie command is not installed")
async def test_the_cli_switches_a_running_server(server: Server, settings: Settings) -> None:
    said = await _menagerie(
        settings, "maintenance", "on", "--message", "Upgrading the disks", "--until", BACK
    )
    assert "maintenance on" in said
    refused = await _until_status(server.http, 503)
    assert refused.status_code == 503
    assert refused.json()["error"] == "Upgrading the disks"
    assert refused.json()["details"]["estimated_return"].startswith("2031-06-03T02:30:00")

    await _menagerie(settings, "maintenance", "off")
    assert (await _until_status(server.http, 200)).status_code == 200
