"""PodPlay's MCP marketplace (seed 000) over a real server, with real MCP servers behind it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import socketio

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.mcp_servers import PACKAGES_DIR
from tests.utils.server import serve

TOKEN = "test-master-key-0123456789abcdef"  # conftest's master key
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TIME = "mcp-server-time"


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, str, Platform]]:
    platform = Platform.build(
        settings.model_copy(
            update={
                "rate_limits_enabled": False,
                "mcp_packages_dir": PACKAGES_DIR,
                "mcp_health_interval_s": 0.5,
            }
        )
    )
    async with (
        serve(create_app(platform=platform)) as url,
        httpx.AsyncClient(base_url=f"{url}/podplay", headers=AUTH, timeout=30) as client,
    ):
        yield client, url, platform


async def wait_running(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    for _ in range(1200):
        servers = (await client.get("/api/mcp/installed")).json()["servers"]
        [server] = [s for s in servers if s["server_name"] == name]
        if server["status"] in ("running", "failed"):
            assert server["status"] == "running", server
            return server
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name} never started")


async def test_search_and_categories(env: tuple[httpx.AsyncClient, str, Platform]) -> None:
    client, _, _ = env
    found = (await client.get("/api/mcp/search", params={"query": "time"})).json()
    assert found["success"] is True
    names = [s["name"] for s in found["servers"]]
    assert TIME in names
    server = found["servers"][names.index(TIME)]
    assert server["installation_method"] == "pip"
    assert server["is_installed"] is False
    assert {"popularity_score", "download_count", "is_official", "configuration_schema"} <= set(
        server
    )
    assert found["filters_applied"]["query"] == "time"
    assert found["pagination"]["page"] == 1

    npm = (await client.get("/api/mcp/search", params={"category": "development"})).json()
    assert all(s["category"] == "development" for s in npm["servers"])
    assert npm["filters_applied"]["category"] == "development"

    paged = (await client.get("/api/mcp/search", params={"limit": 2, "sort": "name"})).json()
    assert len(paged["servers"]) == 2
    assert paged["pagination"]["has_more"] is True
    ordered = [s["name"] for s in paged["servers"]]
    assert ordered == sorted(ordered, reverse=True)

    too_many = await client.get("/api/mcp/search", params={"limit": 101})
    assert too_many.status_code == 422
    assert too_many.json()["error_code"] == "INVALID_INPUT"

    categories = (await client.get("/api/mcp/categories")).json()["categories"]
    by_name = {c["name"]: c for c in categories}
    assert by_name["utilities"]["server_count"] >= 1
    assert {"display_name", "description", "icon"} <= set(by_name["ai"])


async def test_install_run_execute_configure_uninstall(
    env: tuple[httpx.AsyncClient, str, Platform],
) -> None:
    client, url, _ = env
    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    sio = socketio.AsyncClient(reconnection=False)

    @sio.on("*")
    async def anything(event: str, data: Any) -> None:
        await events.put((event, data))

    await sio.connect(url, auth={"token": TOKEN}, transports=["websocket"])
    try:
        started = await client.post(
            "/api/mcp/install",
            json={"server_name": TIME, "configuration": {"local_timezone": "UTC"}},
        )
        assert started.status_code == 200, started.text
        body = started.json()
        assert (body["success"], body["status"]) == (True, "installing")
        assert body["installation_id"].startswith("inst_")
        server = await wait_running(client, TIME)

        progress, statuses = [], []
        while not (progress and progress[-1]["progress"] == 100 and "online" in statuses):
            name, data = await asyncio.wait_for(events.get(), 30)
            if name == "mcp_installation_progress":
                progress.append(data)
            elif name == "mcp_server_status":
                statuses.extend(s["status"] for s in data["servers"])
        assert progress[0]["installation_id"] == body["installation_id"]
        assert {"server_name", "current_step", "estimated_remaining"} <= set(progress[0])
        assert "tenant_id" not in progress[0]
    finally:
        await sio.disconnect()

    assert server["health_status"] == "healthy"
    marketplace = (await client.get("/api/health/mcp_marketplace")).json()
    assert marketplace["status"] == "healthy"
    counts = marketplace["details"]["servers_online"], marketplace["details"]["servers_total"]
    assert counts == (1, 1)
    assert server["configuration"] == {"local_timezone": "UTC"}
    assert set(server["metrics"]) == {
        "uptime",
        "requests_handled",
        "avg_response_time",
        "error_rate",
    }

    tools = (await client.get(f"/api/mcp/tools/{TIME}")).json()
    get_time = next(t for t in tools["tools"] if t["name"] == "get_current_time")
    assert get_time["parameters"]["timezone"]["required"] is True

    done = await client.post(
        f"/api/mcp/execute/{TIME}",
        json={"tool_name": "get_current_time", "parameters": {"timezone": "Asia/Tokyo"}},
    )
    assert done.status_code == 200, done.text
    result = done.json()
    assert (result["success"], result["server_name"]) == (True, TIME)
    assert result["result"]["timezone"] == "Asia/Tokyo"
    assert result["execution_time"].endswith("s")

    bad = await client.post(
        f"/api/mcp/execute/{TIME}",
        json={"tool_name": "get_current_time", "parameters": {"timezone": ["x"]}},
    )
    assert bad.status_code == 422
    assert bad.json()["error_code"] == "INVALID_INPUT"
    assert bad.json()["details"]["field"] == "timezone"
    missing = await client.post(
        "/api/mcp/execute/not-installed", json={"tool_name": "x", "parameters": {}}
    )
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "SERVER_NOT_INSTALLED"

    configured = await client.post(
        f"/api/mcp/configure/{TIME}", json={"configuration": {"local_timezone": "Asia/Tokyo"}}
    )
    assert configured.json()["restart_required"] is True
    restarted = await client.post(
        f"/api/mcp/configure/{TIME}",
        json={"configuration": {"local_timezone": "Europe/Paris"}, "restart": True},
    )
    assert restarted.json()["restart_required"] is False
    await wait_running(client, TIME)

    gone = await client.delete(f"/api/mcp/uninstall/{TIME}")
    assert gone.json() == {
        "success": True,
        "server_name": TIME,
        "message": "Server uninstalled successfully",
    }
    assert (await client.get("/api/mcp/installed")).json()["servers"] == []
    again = await client.delete(f"/api/mcp/uninstall/{TIME}")
    assert again.status_code == 404


async def test_urls_to_private_networks_are_refused(
    env: tuple[httpx.AsyncClient, str, Platform],
) -> None:
    client, _, _ = env
    for url in ("http://127.0.0.1:9/mcp", "http://169.254.169.254/latest", "http://10.1.2.3/"):
        refused = await client.post(
            "/api/mcp/install",
            json={
                "server_name": "github-mcp",
                "configuration": {"api_token": "t" * 20, "url": url},
            },
        )
        assert refused.status_code == 422, url
        assert refused.json()["error_code"] == "URL_NOT_ALLOWED"
    imported = await client.post(
        "/api/mcp/import",
        json={"configuration": {"servers": {"meta": {"type": "http", "url": "http://[::1]/"}}}},
    )
    assert imported.status_code == 422
    assert (await client.get("/api/mcp/installed")).json()["servers"] == []
