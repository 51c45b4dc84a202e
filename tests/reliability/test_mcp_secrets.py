"""A canary secret planted in every place an MCP configuration can hide one (environment,
headers, arguments, URL userinfo and query) appears in no response, log line, socket.io or bus
event, export, or database row, while the servers using it run for real."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import socketio
from sqlalchemy import text

from menagerie.app import create_app
from menagerie.core.tools.catalog import Catalog
from menagerie.core.tools.installer import PackageInstaller
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.mcp_servers import PACKAGES_DIR, everything_server
from tests.utils.server import serve

TOKEN = "test-master-key-0123456789abcdef"  # conftest's master key
CANARY = "canary-mcp-secret-5f1e9a7c3b"


@pytest.fixture
async def everything_http() -> AsyncIterator[str]:
    async with everything_server("streamableHttp") as address:
        yield address


async def test_canary_appears_nowhere(
    settings: Settings, everything_http: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    platform = Platform.build(
        settings.model_copy(
            update={
                "rate_limits_enabled": False,
                "mcp_packages_dir": PACKAGES_DIR,
                "mcp_allow_private_urls": True,  # the remote server is on loopback here
                "mcp_health_interval_s": 0.5,
            }
        )
    )
    home = PackageInstaller(PACKAGES_DIR).home(Catalog.load().get("server-everything").packages[0])
    seen: list[str] = []
    sio = socketio.AsyncClient(reconnection=False)

    @sio.on("*")
    async def anything(event: str, data: Any) -> None:
        seen.append(f"{event} {data}")

    async with serve(create_app(platform=platform)) as url:
        bus = await platform.events.subscribe("*")
        await sio.connect(url, auth={"token": TOKEN}, transports=["websocket"])
        async with httpx.AsyncClient(
            base_url=f"{url}/podplay", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        ) as client:

            async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
                response = await client.request(method, path, **kwargs)
                seen.append(f"{path} {response.status_code} {response.headers} {response.text}")
                return response

            imported = await call(
                "POST",
                "/api/mcp/import",
                json={
                    "configuration": {
                        "servers": {
                            "remote": {
                                "type": "http",
                                "url": f"http://agent:{CANARY}@{everything_http}/mcp"
                                f"?api_key={CANARY}",
                                "headers": {
                                    "Authorization": f"Bearer {CANARY}",
                                    "X-API-Key": CANARY,
                                },
                            },
                            "local": {
                                "type": "stdio",
                                "command": str(home.executable("mcp-server-everything")),
                                "args": ["stdio", "--token", CANARY],
                                "env": {"API_TOKEN": CANARY},
                            },
                        }
                    }
                },
            )
            assert imported.status_code == 200, imported.text
            for _ in range(300):
                servers = (await call("GET", "/api/mcp/installed")).json()["servers"]
                if all(s["status"] == "running" for s in servers):
                    break
                await asyncio.sleep(0.1)
            assert {s["status"] for s in servers} == {"running"}, servers
            config = {s["server_name"]: s["configuration"] for s in servers}
            assert config["remote"]["headers"]["Authorization"] == "Bearer ***_redacted"
            assert "***" in config["remote"]["url"]
            assert config["local"]["env"]["API_TOKEN"] != CANARY

            echoed = await call(
                "POST",
                "/api/mcp/execute/remote",
                json={"tool_name": "echo", "parameters": {"message": "through the headers"}},
            )
            assert echoed.json()["result"][0]["text"] == "Echo: through the headers"
            environment = await call(
                "POST", "/api/mcp/execute/local", json={"tool_name": "get-env", "parameters": {}}
            )
            assert environment.status_code == 200
            assert "API_TOKEN" in str(environment.json()["result"])  # it did dump its env
            await call("GET", "/api/mcp/tools/remote")
            await call("GET", "/api/mcp/export", params={"format": "vscode"})
            exported = await call("GET", "/api/mcp/export", params={"format": "claude_desktop"})
            assert set(exported.json()["mcpServers"]) == {"remote", "local"}
            await call(
                "POST",
                "/api/mcp/configure/remote",
                json={"configuration": {"headers": {"Authorization": f"Bearer {CANARY}"}}},
            )
            await call("DELETE", "/api/mcp/uninstall/local")
        async with platform.database.session() as session:
            rows = (await session.execute(text("SELECT * FROM mcp_installations"))).all()
        seen.append(repr(rows))
        await sio.disconnect()
        while (event := await bus.get(within=0.2)) is not None:
            seen.append(f"{event.topic} {event.payload}")

    logs = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "remote" in logs or seen  # something was logged and seen
    for where, text_ in (("responses and events", "\n".join(seen)), ("logs", logs)):
        assert CANARY not in text_, f"the canary leaked into the {where}"
