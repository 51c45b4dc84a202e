"""PodPlay's MCP marketplace (seed 000) over a real server, with real MCP servers behind it.

Every request example of the seed's "MCP Marketplace API" is sent as the seed writes it, and
every field of its response examples (and of its two MCP socket events) is checked. The
seed's `github-mcp` is, here, a real MCP server with the seed's tools (`mcp_seed_server.py`),
so that nothing reaches GitHub.
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
import socketio

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.envelopes import ISO, assert_error
from tests.utils.http import bearer
from tests.utils.mcp_servers import PACKAGES_DIR
from tests.utils.seed_examples import assert_shaped_like, event_payload, example
from tests.utils.server import serve

TOKEN = "test-master-key-0123456789abcdef"  # conftest's master key
TIME = "mcp-server-time"
GITHUB = "github-mcp"
SEED_SERVER = Path(__file__).parents[2] / "utils" / "mcp_seed_server.py"
# the seed's own configuration schema, `required` flags inline as it writes them
SEED_SCHEMA = example("000", "GET", "/api/mcp/search")["servers"][0]["configuration_schema"]

Env = tuple[httpx.AsyncClient, str, Platform]


def seed(method: str, path: str, kind: str = "response") -> Any:
    return example("000", method, path, kind)


async def _env(settings: Settings) -> AsyncIterator[Env]:
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
        httpx.AsyncClient(base_url=f"{url}/podplay", headers=bearer(TOKEN), timeout=30) as client,
    ):
        yield client, url, platform


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[Env]:
    """The built-in catalogue."""
    async for value in _env(settings):
        yield value


@pytest.fixture
async def github(settings: Settings) -> AsyncIterator[Env]:
    """`github-mcp` replaced (data/mcp_servers.json) by the seed's tools on a local server."""
    custom = {
        "version": 1,
        "servers": [
            {
                "name": GITHUB,
                "description": "GitHub repository management and integration",
                "category": "devops",
                "author": "GitHub",
                "command": sys.executable,
                "args": ["-P", str(SEED_SERVER)],
                "configuration_schema": SEED_SCHEMA,
            }
        ],
    }
    (settings.data_dir / "mcp_servers.json").write_text(json.dumps(custom))
    async for value in _env(settings):
        yield value


async def wait_running(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    for _ in range(1200):
        servers = (await client.get("/api/mcp/installed")).json()["servers"]
        [server] = [s for s in servers if s["server_name"] == name]
        if server["status"] in ("running", "failed"):
            assert server["status"] == "running", server
            return server
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name} never started")


async def test_search_and_categories_replay_the_seed(env: Env) -> None:
    client, _, _ = env
    shown = seed("GET", "/api/mcp/search")
    found = await client.get(
        "/api/mcp/search", params={"category": "devops", "official_only": False}
    )
    assert found.status_code == 200, found.text
    body = found.json()
    assert_shaped_like(shown, body, free=frozenset({"servers[].configuration_schema"}))
    assert body["success"] is True
    assert body["filters_applied"] == {
        "category": "devops",
        "official_only": False,
        "sort": "popularity",
        "order": "desc",
    }
    [github] = [s for s in body["servers"] if s["name"] == GITHUB]
    expected = shown["servers"][0]
    for name in ("category", "author", "popularity_score", "download_count", "is_official", "tags"):
        assert github[name] == expected[name], name
    assert github["is_installed"] is False
    assert set(expected["capabilities"]) <= set(github["capabilities"])
    assert set(github["configuration_schema"]["properties"]) == {"api_token", "organization"}
    assert ISO.match(github["last_updated"])
    assert body["pagination"] == {
        "total": len(body["servers"]),
        "page": 1,
        "limit": 20,
        "has_more": False,
    }

    timed = (await client.get("/api/mcp/search", params={"query": "time"})).json()
    [server] = [s for s in timed["servers"] if s["name"] == TIME]
    assert server["installation_method"] == "pip"
    assert timed["filters_applied"]["query"] == "time"
    assert "category" not in timed["filters_applied"]  # absent, never null
    paged = (await client.get("/api/mcp/search", params={"limit": 2, "sort": "name"})).json()
    assert len(paged["servers"]) == 2
    assert paged["pagination"]["has_more"] is True
    ordered = [s["name"] for s in paged["servers"]]
    assert ordered == sorted(ordered, reverse=True)
    too_many = await client.get("/api/mcp/search", params={"limit": 101})
    assert_error(too_many, 422, "INVALID_INPUT", dialect="podplay")

    categories = (await client.get("/api/mcp/categories")).json()
    assert_shaped_like(seed("GET", "/api/mcp/categories"), categories)
    by_name = {c["name"]: c for c in categories["categories"]}
    for item in seed("GET", "/api/mcp/categories")["categories"]:
        ours = by_name[item["name"]]
        assert (ours["display_name"], ours["description"]) == (
            item["display_name"],
            item["description"],
        )
    assert by_name["devops"]["server_count"] >= 1


async def test_the_seed_examples_replay_against_a_real_server(github: Env) -> None:
    client, url, platform = github
    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    sio = socketio.AsyncClient(reconnection=False)

    @sio.on("*")
    async def anything(event: str, data: Any) -> None:
        await events.put((event, data))

    await sio.connect(url, auth={"token": TOKEN}, transports=["websocket"])
    try:
        started = await client.post(
            "/api/mcp/install", json=seed("POST", "/api/mcp/install", "request")
        )
        assert started.status_code == 200, started.text
        body = started.json()
        assert_shaped_like(seed("POST", "/api/mcp/install"), body)
        assert (body["success"], body["server_name"], body["status"]) == (
            True,
            GITHUB,
            "installing",
        )
        assert body["installation_id"].startswith("inst_")
        assert body["message"] == "Installation started successfully"
        await wait_running(client, GITHUB)

        progress: list[dict[str, Any]] = []
        online: list[dict[str, Any]] = []
        while not (progress and progress[-1]["progress"] == 100 and online):
            name, data = await asyncio.wait_for(events.get(), 30)
            if name == "mcp_installation_progress":
                progress.append(data)
            elif name == "mcp_server_status":
                online += [s for s in data["servers"] if s["status"] == "online"]
    finally:
        await sio.disconnect()
    shown_progress = event_payload("000", "`mcp_installation_progress`")
    for item in progress:
        assert_shaped_like(shown_progress, item)
        assert "tenant_id" not in item
    assert progress[0]["installation_id"] == body["installation_id"]
    assert progress[-1]["estimated_remaining"] == "0s"
    shown_status = event_payload("000", "`mcp_server_status`")["servers"]
    assert_shaped_like(shown_status[0], online[0])  # the seed's online server
    assert online[0]["name"] == GITHUB
    assert 0 <= online[0]["health_score"] <= 1

    installed = (await client.get("/api/mcp/installed")).json()
    assert_shaped_like(seed("GET", "/api/mcp/installed"), installed)
    [server] = installed["servers"]
    # the seed's own redaction of its own token
    assert server["configuration"] == {"api_token": "ghp_***_redacted", "organization": "your-org"}
    assert (server["status"], server["health_status"]) == ("running", "healthy")

    tools = (await client.get(f"/api/mcp/tools/{GITHUB}")).json()
    shown_tools = seed("GET", "/api/mcp/tools/{server_name}")
    assert_shaped_like({k: v for k, v in shown_tools.items() if k != "tools"}, tools)
    by_name = {t["name"]: t for t in tools["tools"]}
    for shown in shown_tools["tools"]:
        assert_shaped_like(shown, by_name[shown["name"]])
        assert by_name[shown["name"]]["description"] == shown["description"]
    create = by_name["create_repository"]["parameters"]
    assert create["name"]["required"] is True
    assert (create["private"]["type"], create["private"]["default"]) == ("boolean", False)
    assert by_name["list_repositories"]["parameters"]["type"]["enum"] == ["all", "owner", "member"]

    done = await client.post(
        f"/api/mcp/execute/{GITHUB}", json=seed("POST", "/api/mcp/execute/{server_name}", "request")
    )
    assert done.status_code == 200, done.text
    result = done.json()
    assert_shaped_like(seed("POST", "/api/mcp/execute/{server_name}"), result)
    assert (result["success"], result["tool_name"], result["server_name"]) == (
        True,
        "create_repository",
        GITHUB,
    )
    assert result["result"]["repository_url"] == "https://github.com/your-org/my-new-repo"
    assert result["result"]["clone_url"] == "git@github.com:your-org/my-new-repo.git"
    assert result["execution_time"].endswith("s")
    assert ISO.match(result["timestamp"])

    # the seed's reconfiguration: a new token and a call timeout, which every server accepts
    configured = await client.post(
        f"/api/mcp/configure/{GITHUB}",
        json=seed("POST", "/api/mcp/configure/{server_name}", "request"),
    )
    assert configured.status_code == 200, configured.text
    answer = configured.json()
    assert_shaped_like(seed("POST", "/api/mcp/configure/{server_name}"), answer)
    assert (answer["server_name"], answer["restart_required"]) == (GITHUB, True)
    assert answer["message"] == "Configuration updated successfully"
    assert answer["configuration"]["timeout"] == 30
    [stored] = (await client.get("/api/mcp/installed")).json()["servers"]
    assert stored["configuration"]["timeout"] == 30
    [session] = platform.mcp.sessions(platform.bootstrap_result.tenant_id)
    assert session.call_timeout_s == 30  # applied at once: the next call is bounded by it

    gone = await client.delete(f"/api/mcp/uninstall/{GITHUB}")
    assert gone.json() == seed("DELETE", "/api/mcp/uninstall/{server_name}")
    assert (await client.get("/api/mcp/installed")).json()["servers"] == []
    again = await client.delete(f"/api/mcp/uninstall/{GITHUB}")
    assert_error(again, 404, "RESOURCE_NOT_FOUND", dialect="podplay")


async def test_a_configured_timeout_bounds_every_call(github: Env) -> None:
    client, _, _ = github
    install = seed("POST", "/api/mcp/install", "request")
    assert (await client.post("/api/mcp/install", json=install)).status_code == 200
    await wait_running(client, GITHUB)
    slow = {"tool_name": "slow_operation", "parameters": {"seconds": 5}}

    # a timeout alone needs no restart: it applies to the next call
    short = await client.post(
        f"/api/mcp/configure/{GITHUB}", json={"configuration": {"timeout": 0.5}}
    )
    assert short.json()["restart_required"] is False
    timed_out = await client.post(f"/api/mcp/execute/{GITHUB}", json=slow)
    assert timed_out.status_code == 504, timed_out.text
    assert "0.5s" in timed_out.json()["error"]
    # the body's own timeout wins for its call
    quick = {"tool_name": "slow_operation", "parameters": {"seconds": 0.1}, "timeout": 5}
    assert (await client.post(f"/api/mcp/execute/{GITHUB}", json=quick)).json()["success"]

    for wrong in (0, 601, "30", True):
        refused = await client.post(
            f"/api/mcp/configure/{GITHUB}", json={"configuration": {"timeout": wrong}}
        )
        assert refused.status_code == 422, wrong
        assert refused.json()["details"]["field"] == "timeout"


async def test_errors_and_other_tenants(github: Env) -> None:
    client, _, platform = github
    install = seed("POST", "/api/mcp/install", "request")
    assert (await client.post("/api/mcp/install", json=install)).status_code == 200
    await wait_running(client, GITHUB)

    twice = await client.post("/api/mcp/install", json=install)
    assert twice.status_code == 409
    unknown = await client.post("/api/mcp/install", json={"server_name": "no-such-server"})
    assert_error(unknown, 404, "RESOURCE_NOT_FOUND", dialect="podplay")
    missing = await client.post(
        "/api/mcp/execute/not-installed", json={"tool_name": "x", "parameters": {}}
    )
    assert_error(missing, 404, "RESOURCE_NOT_FOUND", dialect="podplay")
    bad = await client.post(
        f"/api/mcp/execute/{GITHUB}",
        json={"tool_name": "create_repository", "parameters": {"name": ["x"]}},
    )
    assert_error(bad, 422, "INVALID_INPUT", dialect="podplay")
    assert bad.json()["details"]["field"] == "name"

    issued = await platform.api_tokens.issue_for_tenant("acme", "acme admin")
    stranger = bearer(issued.token)
    for method, path, payload in (
        ("GET", f"/api/mcp/tools/{GITHUB}", None),
        ("POST", f"/api/mcp/execute/{GITHUB}", {"tool_name": "list_repositories"}),
        ("POST", f"/api/mcp/configure/{GITHUB}", {"configuration": {"timeout": 5}}),
        ("DELETE", f"/api/mcp/uninstall/{GITHUB}", None),
    ):
        answer = await client.request(method, path, json=payload, headers=stranger)
        assert_error(answer, 404, "RESOURCE_NOT_FOUND", dialect="podplay")
    theirs = await client.get("/api/mcp/installed", headers=stranger)
    assert theirs.json()["servers"] == []
    searched = await client.get("/api/mcp/search", headers=stranger)
    assert all(not s["is_installed"] for s in searched.json()["servers"])


async def test_urls_to_private_networks_are_refused(env: Env) -> None:
    client, _, _ = env
    for url in ("http://127.0.0.1:9/mcp", "http://169.254.169.254/latest", "http://10.1.2.3/"):
        refused = await client.post(
            "/api/mcp/install",
            json={
                "server_name": GITHUB,
                "configuration": {"api_token": "t" * 20, "url": url},
            },
        )
        assert refused.status_code == 422, url
        assert refused.json()["details"]["field"] == "url"
    imported = await client.post(
        "/api/mcp/import",
        json={"configuration": {"servers": {"meta": {"type": "http", "url": "http://[::1]/"}}}},
    )
    assert imported.status_code == 422
    assert (await client.get("/api/mcp/installed")).json()["servers"] == []


async def test_a_pypi_server_installs_and_answers(env: Env) -> None:
    client, _, _ = env
    started = await client.post(
        "/api/mcp/install", json={"server_name": TIME, "configuration": {"local_timezone": "UTC"}}
    )
    assert started.status_code == 200, started.text
    server = await wait_running(client, TIME)
    assert server["configuration"] == {"local_timezone": "UTC"}
    done = await client.post(
        f"/api/mcp/execute/{TIME}",
        json={"tool_name": "get_current_time", "parameters": {"timezone": "Asia/Tokyo"}},
    )
    assert done.json()["result"]["timezone"] == "Asia/Tokyo"
    restarted = await client.post(
        f"/api/mcp/configure/{TIME}",
        json={"configuration": {"local_timezone": "Europe/Paris"}, "restart": True},
    )
    assert restarted.json()["restart_required"] is False
    assert restarted.json()["message"] == "Configuration updated and server restarted"
    await wait_running(client, TIME)
