"""Crazy Gary's MCP integration (seed 004) over a real server, with a real MCP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.mcp_servers import PACKAGES_DIR
from tests.utils.principals import admin
from tests.utils.server import client_for

PASSWORD = "Correct-Horse-Battery-9"
TIME = "mcp-server-time"


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Platform]]:
    platform = Platform.build(
        settings.model_copy(update={"rate_limits_enabled": False, "mcp_packages_dir": PACKAGES_DIR})
    )
    async with client_for(create_app(platform=platform)) as client:
        client.base_url = client.base_url.join("/gary")
        response = await client.post(
            "/api/auth/register",
            json={"email": "fan@example.com", "password": PASSWORD, "name": "Gary Fan"},
        )
        assert response.status_code == 201, response.text
        client.headers["Authorization"] = f"Bearer {response.json()['token']}"
        yield client, platform


async def test_tools_search_execute_and_status(env: tuple[httpx.AsyncClient, Platform]) -> None:
    client, platform = env
    idle = (await client.get("/api/mcp/status")).json()
    assert idle == {
        "status": "idle",
        "connected_clients": [],
        "available_tools": 0,
        "last_health_check": None,
    }
    assert (await client.get("/api/mcp/tools")).json() == []

    await platform.mcp.install(admin(platform), TIME, {})
    for _ in range(600):
        if (await client.get("/api/mcp/status")).json()["connected_clients"]:
            break
        await asyncio.sleep(0.1)

    status = (await client.get("/api/mcp/status")).json()
    assert status["status"] == "healthy"
    assert status["connected_clients"] == [TIME]
    assert status["available_tools"] == 2
    assert status["last_health_check"].endswith("Z")

    everything = (await client.get("/api/mcp/tools")).json()
    assert {t["name"] for t in everything} == {"get_current_time", "convert_time"}
    tool = next(t for t in everything if t["name"] == "get_current_time")
    assert tool["client"] == TIME
    assert tool["schema"]["required"] == ["timezone"]
    assert set(tool) == {"name", "description", "schema", "client"}

    assert (await client.get(f"/api/mcp/tools/{TIME}")).json() == everything
    found = (await client.get("/api/mcp/tools/search", params={"query": "convert"})).json()
    assert [t["name"] for t in found] == ["convert_time"]
    # `search` is a route, not a client called "search": without its query it is a 400/422
    assert (await client.get("/api/mcp/tools/search")).status_code in (400, 422)
    unknown = await client.get("/api/mcp/tools/github")
    assert unknown.status_code == 404
    assert {"error", "code", "timestamp", "request_id"} <= set(unknown.json())

    done = await client.post(
        "/api/mcp/execute",
        json={
            "tool_name": "convert_time",
            "client_name": TIME,
            "parameters": {
                "source_timezone": "UTC",
                "time": "12:00",
                "target_timezone": "Asia/Tokyo",
            },
        },
    )
    assert done.status_code == 200, done.text
    assert done.json()["success"] is True
    assert done.json()["result"]["target"]["timezone"] == "Asia/Tokyo"

    bad = await client.post(
        "/api/mcp/execute",
        json={"tool_name": "convert_time", "client_name": TIME, "parameters": {}},
    )
    assert bad.status_code == 400
    assert bad.json()["code"] == "INVALID_INPUT"
    assert bad.json()["details"]["field"] == "source_timezone"
