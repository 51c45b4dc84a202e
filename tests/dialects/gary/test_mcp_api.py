"""Crazy Gary's MCP integration (seed 004) over a real server, with real MCP servers.

Every request example of the seed's "MCP Integration Endpoints" is sent as the seed writes
it, and every field of its response examples is checked. The seed's `github` client is, here,
a real MCP server with the seed's tools (`mcp_seed_server.py`), so nothing reaches GitHub.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.envelopes import ISO, assert_error
from tests.utils.http import bearer
from tests.utils.mcp_servers import PACKAGES_DIR
from tests.utils.principals import admin, other_tenant
from tests.utils.seed_examples import assert_shaped_like, example
from tests.utils.server import client_for

PASSWORD = "Correct-Horse-Battery-9"
TIME = "mcp-server-time"
GITHUB = "github"
SEED_SERVER = Path(__file__).parents[2] / "utils" / "mcp_seed_server.py"


def seed(method: str, path: str, kind: str = "response") -> Any:
    return example("004", method, path, kind)


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Platform]]:
    custom = {
        "version": 1,
        "servers": [{"name": GITHUB, "command": sys.executable, "args": ["-P", str(SEED_SERVER)]}],
    }
    (settings.data_dir / "mcp_servers.json").write_text(json.dumps(custom))
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


async def connected(client: httpx.AsyncClient, *names: str) -> dict[str, Any]:
    for _ in range(600):
        status = (await client.get("/api/mcp/status")).json()
        if set(names) <= set(status["connected_clients"]):
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"{names} never connected")


async def test_the_seed_examples_replay(env: tuple[httpx.AsyncClient, Platform]) -> None:
    client, platform = env
    idle = (await client.get("/api/mcp/status")).json()
    assert_shaped_like(seed("GET", "/api/mcp/status"), idle)
    assert (idle["status"], idle["connected_clients"], idle["available_tools"]) == ("idle", [], 0)
    assert ISO.match(idle["last_health_check"])  # the time of this report: nothing to check
    assert (await client.get("/api/mcp/tools")).json() == []

    await platform.mcp.install(admin(platform), GITHUB, {})
    status = await connected(client, GITHUB)
    assert_shaped_like(seed("GET", "/api/mcp/status"), status)
    assert (status["status"], status["connected_clients"]) == ("healthy", [GITHUB])
    assert status["available_tools"] == 4

    shown_tool = seed("GET", "/api/mcp/tools")[0]
    everything = (await client.get("/api/mcp/tools")).json()
    tool_schemas = frozenset({"[].schema"})  # each tool's own
    assert_shaped_like(seed("GET", "/api/mcp/tools"), everything, free=tool_schemas)
    [search_code] = [t for t in everything if t["name"] == "search_code"]
    for key in ("name", "description", "client"):
        assert search_code[key] == shown_tool[key], key
    schema = search_code["schema"]
    assert schema["required"] == shown_tool["schema"]["required"]
    for name, prop in shown_tool["schema"]["properties"].items():
        assert (schema["properties"][name]["type"], schema["properties"][name]["description"]) == (
            prop["type"],
            prop["description"],
        )

    by_client = (await client.get(f"/api/mcp/tools/{GITHUB}")).json()
    assert_shaped_like(seed("GET", "/api/mcp/tools/{client_name}"), by_client, free=tool_schemas)
    assert by_client == everything
    found = (await client.get("/api/mcp/tools/search", params={"query": "search code"})).json()
    assert_shaped_like(seed("GET", "/api/mcp/tools/search"), found, free=tool_schemas)
    assert [t["name"] for t in found] == ["search_code"]
    # `search` is a route, not a client called "search": without its query it is refused
    assert_error(await client.get("/api/mcp/tools/search"), 400, "VALIDATION_ERROR", dialect="gary")

    done = await client.post("/api/mcp/execute", json=seed("POST", "/api/mcp/execute", "request"))
    assert done.status_code == 200, done.text
    assert_shaped_like(seed("POST", "/api/mcp/execute"), done.json())
    assert done.json()["result"] == seed("POST", "/api/mcp/execute")["result"]
    assert done.json()["success"] is True


async def test_a_pypi_server_and_the_errors(env: tuple[httpx.AsyncClient, Platform]) -> None:
    client, platform = env
    await platform.mcp.install(admin(platform), TIME, {})
    await connected(client, TIME)
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
    assert done.json()["result"]["target"]["timezone"] == "Asia/Tokyo"

    bad = await client.post(
        "/api/mcp/execute",
        json={"tool_name": "convert_time", "client_name": TIME, "parameters": {}},
    )
    assert_error(bad, 400, "VALIDATION_ERROR", dialect="gary")
    assert bad.json()["details"]["field"] == "source_timezone"
    unknown = await client.get(f"/api/mcp/tools/{GITHUB}")  # in the catalogue, not installed
    assert unknown.status_code == 404
    assert_error(unknown, 404, unknown.json()["code"], dialect="gary")

    # another tenant sees none of it
    stranger = await other_tenant(platform)
    issued = await platform.api_tokens.issue_for_tenant(stranger.tenant_id, "acme again")
    theirs = bearer(issued.token)
    status = (await client.get("/api/mcp/status", headers=theirs)).json()
    assert (status["status"], status["connected_clients"]) == ("idle", [])
    assert (await client.get("/api/mcp/tools", headers=theirs)).json() == []
    hidden = await client.get(f"/api/mcp/tools/{TIME}", headers=theirs)
    assert hidden.status_code == 404
