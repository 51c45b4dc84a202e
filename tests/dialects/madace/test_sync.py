"""The MADACE sync service (seed 001) with a real WebSocket client on loopback: started on a
free port, a state file written produces `state_update`, `POST /api/config` produces
`config_update` (without its secrets), `ping` is answered with `pong`, the status lists the
client, a wrong credential is refused before the upgrade, and `stop` closes the client."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.envelopes import assert_error
from tests.utils.http import bearer
from tests.utils.seed_examples import assert_shaped_like, event_payload, example
from tests.utils.server import client_for

KEY = "test-master-key-0123456789abcdef"  # conftest's master key
API = "/madace/api"
DEADLINE_S = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Platform]]:
    platform = Platform.build(settings.model_copy(update={"rate_limits_enabled": False}))
    async with client_for(create_app(platform=platform)) as client:
        client.headers.update(bearer(KEY))
        yield client, platform


async def next_of(ws: ClientConnection, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(DEADLINE_S):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == kind:
                return message


async def drain(ws: ClientConnection) -> None:
    """Reads until the server closes the connection (ConnectionClosed) or the deadline."""
    async with asyncio.timeout(DEADLINE_S):
        while True:
            await ws.recv()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sync_service_end_to_end(env: tuple[httpx.AsyncClient, Platform]) -> None:
    client, platform = env
    stopped = await client.get(f"{API}/sync")
    assert stopped.json() == {"running": False, "clients": [], "clientCount": 0, "uptime": 0}
    assert (await client.get(f"{API}/health")).json()["services"]["sync"] == "down"

    port = free_port()
    request = {**example("001", "POST", "/api/sync", "request"), "wsPort": port}
    started = await client.post(f"{API}/sync", json=request)
    assert started.status_code == 200, started.text
    assert_shaped_like(example("001", "POST", "/api/sync"), started.json())
    assert started.json() == {
        "success": True,
        "message": "Sync service started successfully",
        "running": True,
        "wsPort": port,
        "clientCount": 0,
    }
    assert (await client.get(f"{API}/health")).json()["services"]["sync"] == "up"

    with pytest.raises(InvalidStatus) as refused:
        await connect(f"ws://127.0.0.1:{port}", additional_headers=bearer("wrong"))
    assert refused.value.response.status_code == 401

    async with connect(
        f"ws://127.0.0.1:{port}/?source=web-ui", additional_headers=bearer(KEY)
    ) as ws:
        await ws.send(json.dumps({"type": "ping"}))
        pong = await next_of(ws, "pong")
        assert isinstance(pong["timestamp"], int)

        status = (await client.get(f"{API}/sync")).json()
        assert_shaped_like(example("001", "GET", "/api/sync"), status)
        assert status["running"] is True
        assert status["clientCount"] == 1
        assert status["clients"][0]["metadata"]["source"] == "web-ui"
        assert status["clients"][0]["lastPing"] >= status["clients"][0]["connectedAt"]

        # the seed's step 4: a state file written by hand
        states = platform.projects.states_root
        (states / ".test.state.json").write_text(json.dumps({"status": "running"}))
        update = await next_of(ws, "state_update")
        assert update["workflowName"] == "test"
        assert update["state"] == {"status": "running"}

        # a workflow step's mirror is a state update in the seed's shape
        ran = await client.post(f"{API}/workflows/create-story/execute", json={"userInput": "E1"})
        assert ran.status_code == 200
        update = await next_of(ws, "state_update")
        while update["workflowName"] != "create-story":
            update = await next_of(ws, "state_update")
        shown = event_payload("001", "WebSocket API")
        assert_shaped_like(shown, update)
        assert update["state"]["currentStep"] == 1
        assert update["state"]["status"] == "running"

        saved = await client.post(
            f"{API}/config", json=example("001", "POST", "/api/config", "request")
        )
        assert saved.status_code == 200
        config = await next_of(ws, "config_update")
        assert config["config"]["project_name"] == "My Project"
        assert "api_key" not in config["config"]["llm"]
        assert "your-api-key-here" not in json.dumps(config)

        again = await client.post(f"{API}/sync", json=request)
        assert again.json()["message"] == "Sync service is already running"

        done = await client.post(f"{API}/sync", json={"action": "stop"})
        assert done.json() == {
            "success": True,
            "message": "Sync service stopped successfully",
            "running": False,
        }
        with pytest.raises(ConnectionClosed):
            await drain(ws)
    with pytest.raises(ConnectionRefusedError):
        await connect(f"ws://127.0.0.1:{port}", additional_headers=bearer(KEY), open_timeout=2)
    assert (await client.get(f"{API}/sync")).json()["running"] is False


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sync_refuses_bad_actions(env: tuple[httpx.AsyncClient, Platform]) -> None:
    client, _ = env
    for body in (
        {"action": "restart"},
        {"action": "start", "wsPort": 80},
        {"action": "start", "statePaths": ["../../etc"]},
        {"action": "start", "configPath": "/etc/passwd"},
        {},
    ):
        response = await client.post(f"{API}/sync", json=body)
        assert_error(response, 400, "VALIDATION_ERROR", dialect="madace")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        taken = await client.post(
            f"{API}/sync", json={"action": "start", "wsPort": busy.getsockname()[1]}
        )
        assert "wsPort" in assert_error(taken, 400, "VALIDATION_ERROR", dialect="madace")["details"]
    finally:
        busy.close()
    assert (await client.get(f"{API}/sync")).json()["running"] is False


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_same_clients_on_the_main_port(env: tuple[httpx.AsyncClient, Platform]) -> None:
    client, platform = env
    main = str(client.base_url).replace("http://", "ws://") + "/madace/ws"
    # not running yet: refused until `start`
    with pytest.raises(InvalidStatus):
        await connect(main, additional_headers=bearer(KEY))
    request = {**example("001", "POST", "/api/sync", "request"), "wsPort": free_port()}
    assert (await client.post(f"{API}/sync", json=request)).status_code == 200
    with pytest.raises(InvalidStatus):
        await connect(main, additional_headers=bearer("wrong"))

    async with connect(f"{main}?token={KEY}&source=main-port") as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert isinstance((await next_of(ws, "pong"))["timestamp"], int)
        status = (await client.get(f"{API}/sync")).json()
        assert [c["metadata"]["source"] for c in status["clients"]] == ["main-port"]

        (platform.projects.states_root / ".main.state.json").write_text('{"status": "done"}')
        update = await next_of(ws, "state_update")
        assert (update["workflowName"], update["state"]) == ("main", {"status": "done"})

        await client.post(f"{API}/sync", json={"action": "stop"})
        with pytest.raises(ConnectionClosed):
            await drain(ws)
    assert (await client.get(f"{API}/sync")).json()["clientCount"] == 0
