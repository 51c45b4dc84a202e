"""Crazy Gary's heavy orchestration over HTTP: the seed's four routes replayed against real
tools (bandit, ruff and radon inside a workspace's sandbox, a PDF report), steps refused
before anything runs, a step past the timeout, other users kept out, and
`orchestration_update` heard by the owner alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from menagerie.app import create_app
from menagerie.core.identity.models import Principal
from menagerie.core.sandboxes.models import FileWrite, SandboxRequest
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.core.sandboxes.support import require_bwrap
from tests.dialects.gary.test_seed_replay import check, example
from tests.utils.http import bearer
from tests.utils.server import client_for
from tests.utils.socket_events import EventClient

# a shell command from input (bandit B602, high) and an unused import (ruff F401)
APP = """import os
import subprocess


def run(command):
    return subprocess.call(command, shell=True)
"""


@pytest.fixture
async def heavy(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Platform]]:
    require_bwrap()
    platform = Platform.build(settings.model_copy(update={"rate_limits_enabled": False}))
    async with client_for(create_app(platform=platform)) as client:
        client.base_url = client.base_url.join("/gary")
        yield client, platform


async def _user(platform: Platform, name: str) -> tuple[dict[str, str], str, Principal]:
    signed = await platform.accounts.register(f"{name}@example.com", "SecurePassword123", name)
    account = signed.account
    principal = Principal(account.tenant_id, account.id, frozenset(account.roles))
    return bearer(signed.tokens.access_token), signed.tokens.access_token, principal


async def _workspace(platform: Platform, principal: Principal) -> str:
    sandbox = await platform.sandboxes.create(principal, SandboxRequest(name="code"))
    await platform.sandboxes.start_sandbox(principal, sandbox.id)
    await platform.sandboxes.write_files(principal, sandbox.id, [FileWrite("src/app.py", APP)])
    return sandbox.id


async def _finished(client: httpx.AsyncClient, me: dict[str, str], orch_id: str) -> Any:
    async with asyncio.timeout(30):
        while True:
            response = await client.get(
                "/api/heavy/progress", headers=me, params={"orchestration_id": orch_id}
            )
            body = response.json()
            if body["status"] in ("completed", "failed", "cancelled"):
                return response
            await asyncio.sleep(0.05)


async def test_seed_routes_with_real_tools(
    heavy: tuple[httpx.AsyncClient, Platform],
) -> None:
    client, platform = heavy
    me, token, principal = await _user(platform, "owner")
    them, other_token, _ = await _user(platform, "other")
    await _workspace(platform, principal)

    listed = check("GET /api/heavy/tools", await client.get("/api/heavy/tools"), 200)
    names = [tool["name"] for tool in listed]
    assert names[:2] == ["code_analyzer", "report_generator"]
    assert listed[0]["parameters"]["type"]["enum"] == ["security", "performance", "quality", "all"]

    # the seed's own request: bandit finds the shell command
    executed = await client.post(
        "/api/heavy/tools/execute",
        headers=me,
        json=example("POST /api/heavy/tools/execute", "request"),
    )
    body = check("POST /api/heavy/tools/execute", executed, 200)
    assert body["success"] is True
    shell = [v for v in body["result"]["vulnerabilities"] if v["rule"] == "B602"]
    assert shell
    assert shell[0]["file"] == "src/app.py"
    assert shell[0]["line"] == 6
    assert shell[0]["severity"] == "high"
    assert body["result"]["summary"]["high_severity"] >= 1
    # ruff finds the unused import
    quality = await client.post(
        "/api/heavy/tools/execute",
        headers=me,
        json={"tool_name": "code_analyzer", "parameters": {"target": "src", "type": "quality"}},
    )
    findings = quality.json()["result"]["findings"]
    assert {"file": "src/app.py", "line": 1, "rule": "F401"}.items() <= findings[0].items()

    owner, bystander = EventClient(), EventClient()
    base = str(client.base_url).removesuffix("/gary")
    await owner.sio.connect(base, socketio_path="gary/socket.io", auth={"token": token})
    await bystander.sio.connect(base, socketio_path="gary/socket.io", auth={"token": other_token})

    started = await client.post(
        "/api/heavy/orchestrate", headers=me, json=example("POST /api/heavy/orchestrate", "request")
    )
    created = check("POST /api/heavy/orchestrate", started, 200)
    assert created["status"] == "started"
    assert created["total_steps"] == 2
    orch_id = created["orchestration_id"]
    assert orch_id.startswith("orch_")

    done = check("GET /api/heavy/progress", await _finished(client, me, orch_id), 200)
    assert done["status"] == "completed", done
    assert done["progress"] == 100
    assert [s["status"] for s in done["steps"]] == ["completed", "completed"]
    assert [s["name"] for s in done["steps"]] == ["Code Analysis", "Report Generation"]
    assert done["estimated_time_remaining"] == 0
    report = done["steps"][1]["result"]
    assert report["format"] == "pdf"
    assert report["recommendations"]
    pdf = (platform.settings.resolved_data_dir / report["path"]).read_bytes()
    assert pdf.startswith(b"%PDF")
    assert len(pdf) == report["size_bytes"]
    # the caller's latest, without an id
    latest = await client.get("/api/heavy/progress", headers=me)
    assert latest.json()["orchestration_id"] == orch_id

    heard = await owner.next("orchestration_update", orchestration_id=orch_id, status="completed")
    assert heard["total_steps"] == 2
    assert "_audience" not in heard
    assert not [n for n, _ in bystander.heard if n == "orchestration_update"]
    await owner.sio.disconnect()
    await bystander.sio.disconnect()

    # another user sees none of it
    hidden = await client.get(
        "/api/heavy/progress", headers=them, params={"orchestration_id": orch_id}
    )
    assert hidden.status_code == 404
    assert hidden.json()["details"]["reason"] == "ORCHESTRATION_NOT_FOUND"
    assert (await client.get("/api/heavy/progress", headers=them)).status_code == 404

    # a second run is estimated from the first one's measured steps
    again = await client.post(
        "/api/heavy/orchestrate", headers=me, json=example("POST /api/heavy/orchestrate", "request")
    )
    assert isinstance(again.json()["estimated_duration"], int)
    await _finished(client, me, again.json()["orchestration_id"])


async def test_refused_before_running_and_timeout(
    heavy: tuple[httpx.AsyncClient, Platform],
) -> None:
    client, platform = heavy
    me, _, principal = await _user(platform, "owner")

    def workflow(*steps: tuple[str, dict[str, Any]], **config: Any) -> dict[str, Any]:
        return {
            "workflow": [{"tool": t, "parameters": p} for t, p in steps],
            "config": config,
        }

    security = ("code_analyzer", {"target": "src", "type": "security"})
    report = ("report_generator", {"format": "json"})
    # no workspace yet: refused, naming the step's parameter
    no_workspace = await client.post("/api/heavy/orchestrate", headers=me, json=workflow(security))
    assert no_workspace.status_code == 400
    assert no_workspace.json()["details"]["field"] == "workflow[0].parameters.workspace_id"
    await _workspace(platform, principal)
    for steps, field in (
        ((security, ("shell", {})), "workflow[1].tool"),
        ((security, ("mcp:nowhere/tool", {})), "workflow[1].tool"),
        ((("code_analyzer", {"target": "src", "type": "speed"}),), "workflow[0].parameters.type"),
        ((("code_analyzer", {"target": "../..", "type": "all"}),), "workflow[0].parameters.target"),
        ((("code_analyzer", {"target": "nope", "type": "all"}),), "workflow[0].parameters.target"),
        ((report, security), "workflow[0].parameters.source_step"),
    ):
        refused = await client.post("/api/heavy/orchestrate", headers=me, json=workflow(*steps))
        assert refused.status_code == 400, refused.text
        assert refused.json()["code"] == "VALIDATION_ERROR"
        assert refused.json()["details"]["field"] == field, refused.json()
    # nothing was kept, nothing ran
    assert (await client.get("/api/heavy/progress", headers=me)).status_code == 404
    unknown = await client.post(
        "/api/heavy/tools/execute", headers=me, json={"tool_name": "shell", "parameters": {}}
    )
    assert unknown.status_code == 400

    # three analysers cannot finish in 50 ms: the step, started, fails with TIMEOUT, and the
    # report waiting for it is cancelled
    started = await client.post(
        "/api/heavy/orchestrate",
        headers=me,
        json=workflow(("code_analyzer", {"target": "src", "type": "all"}), report, timeout=0.05),
    )
    assert started.status_code == 200, started.text
    ended = (await _finished(client, me, started.json()["orchestration_id"])).json()
    assert ended["status"] == "failed"
    first, second = ended["steps"]
    assert first["status"] == "failed"
    assert first["error"].startswith("TIMEOUT")
    assert second["status"] == "cancelled"
    assert ended["error"].startswith("TIMEOUT")
