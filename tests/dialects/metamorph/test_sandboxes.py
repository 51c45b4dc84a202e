"""Metamorph sandboxes (seed 003 "Sandbox Endpoints") over a real server: the seed's examples
replayed field by field, the lifecycle and its documented errors, the allow-list, files that
try to leave the workspace, the agent that runs commands in its sandbox, usage and tier
limits, and another vault's sandbox that does not exist for the caller."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.contract import seeds
from tests.dialects.metamorph.test_seed_replay import example, fits, same
from tests.utils.envelopes import assert_error
from tests.utils.server import client_for

VAULT = {"X-Vault-Id": "my-vault"}
OTHER = {"X-Vault-Id": "other-vault"}
BASE = "/api/sandboxes"


def errors_shown(method: str, path: str) -> dict[str, dict[str, Any]]:
    """The seed's error examples of one endpoint by code: a block may hold several objects,
    each after a `//` comment."""
    found: dict[str, dict[str, Any]] = {}
    for endpoint in seeds.endpoints("003"):
        if (endpoint.method, endpoint.path) != (method, path):
            continue
        for shown in endpoint.examples:
            if shown.is_error:
                text = re.sub(r"//[^\n]*", "", shown.text)
                for block in re.findall(r"\{[^{}]*\}", text):
                    value = json.loads(block)
                    found[value["code"]] = value
    assert found, f"seed 003 shows no error example for {method} {path}"
    return found


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    platform = Platform.build(settings.model_copy(update={"dev_mode": True}))
    async with client_for(create_app(platform=platform)) as http:
        http.base_url = http.base_url.join("/metamorph")
        http.timeout = httpx.Timeout(30)
        yield http


async def _created(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post(BASE, json={"name": "test", **body}, headers=VAULT)
    assert response.status_code == 201, response.text
    return response.json()


async def _running(client: httpx.AsyncClient, **body: Any) -> str:
    sandbox_id = (await _created(client, **body))["id"]
    started = await client.post(f"{BASE}/{sandbox_id}/start", headers=VAULT)
    assert started.status_code == 200, started.text
    return sandbox_id


async def test_the_seed_replayed(client: httpx.AsyncClient) -> None:
    request = example("POST", "/api/sandboxes", "Example Request")
    created = await client.post(BASE, json=request, headers=VAULT)
    assert created.status_code == 201, created.text
    shown = example("POST", "/api/sandboxes")
    fits(shown, created.json())
    # the research template's sizes and agent settings, as the seed's answer shows them
    same(shown, created.json(), "name", "status", "config", "agentConfig")
    sandbox_id = created.json()["id"]

    started = await client.post(f"{BASE}/{sandbox_id}/start", headers=VAULT)
    shown = example("POST", "/api/sandboxes/:id/start")
    fits(shown, started.json())
    same(shown, started.json(), "status")
    again = await client.post(f"{BASE}/{sandbox_id}/start", headers=VAULT)
    shown = errors_shown("POST", "/api/sandboxes/:id/start")["ALREADY_RUNNING"]
    body = assert_error(again, 409, "ALREADY_RUNNING", dialect="metamorph")
    same(shown, body, "error", "code")

    written = await client.post(
        f"{BASE}/{sandbox_id}/files",
        json=example("POST", "/api/sandboxes/:id/files", "Request Body"),
        headers=VAULT,
    )
    shown = example("POST", "/api/sandboxes/:id/files")
    fits(shown, written.json())
    assert written.json() == shown  # both files written, as the seed answers

    request = example("POST", "/api/sandboxes/:id/execute", "Example Request")
    await client.post(
        f"{BASE}/{sandbox_id}/files",
        json={"files": [{"path": "src/script.js", "content": "console.log('Hello, World!')"}]},
        headers=VAULT,
    )
    executed = await client.post(f"{BASE}/{sandbox_id}/execute", json=request, headers=VAULT)
    shown = example("POST", "/api/sandboxes/:id/execute")
    fits(shown, executed.json())
    same(shown, executed.json(), "success", "stdout", "stderr", "exitCode")

    refused = await client.post(
        f"{BASE}/{sandbox_id}/execute", json={"command": "bash -c id"}, headers=VAULT
    )
    shown = errors_shown("POST", "/api/sandboxes/:id/execute")["COMMAND_NOT_ALLOWED"]
    body = assert_error(refused, 403, "COMMAND_NOT_ALLOWED", dialect="metamorph")
    same(shown, body, "error", "code")

    attached = await client.post(
        f"{BASE}/{sandbox_id}/agent/attach",
        json=example("POST", "/api/sandboxes/:id/agent/attach", "Request Body"),
        headers=VAULT,
    )
    shown = example("POST", "/api/sandboxes/:id/agent/attach")
    fits(shown, attached.json())
    for key in ("intensity", "coherenceFloor", "enableProactiveMemory", "sandboxed", "vaultId"):
        assert attached.json()["config"][key] == shown["config"][key], key
    assert attached.json()["config"]["sandboxId"] == sandbox_id

    request = example("POST", "/api/sandboxes/:id/agent/chat", "Request Body")
    chatted = await client.post(f"{BASE}/{sandbox_id}/agent/chat", json=request, headers=VAULT)
    shown = example("POST", "/api/sandboxes/:id/agent/chat")
    fits(shown, chatted.json())
    assert chatted.json()["response"]["userMessage"] == request["message"]
    assert chatted.json()["response"]["sandboxId"] == sandbox_id
    assert chatted.json()["sessionId"] == attached.json()["sessionId"]

    listed = await client.get(BASE, headers=VAULT)
    fits(example("GET", "/api/sandboxes"), listed.json())
    assert listed.json()["sandboxes"][0]["hasAgent"] is True
    detail = await client.get(f"{BASE}/{sandbox_id}", headers=VAULT)
    shown = example("GET", "/api/sandboxes/:id")
    # the seed's sandbox was made with an environment; this one without (test_environment)
    fits({**shown, "environment": {}}, detail.json())
    assert detail.json()["environment"] == {}
    assert detail.json()["agent"]["sessionId"] == attached.json()["sessionId"]

    usage = await client.get(f"{BASE}/usage", headers=VAULT)
    fits(example("GET", "/api/sandboxes/usage"), usage.json())
    assert usage.json()["usage"]["totalExecutions"] >= 1
    assert usage.json()["usage"]["activeSandboxes"] == 1

    stopped = await client.post(f"{BASE}/{sandbox_id}/stop", headers=VAULT)
    shown = example("POST", "/api/sandboxes/:id/stop")
    fits(shown, stopped.json())
    same(shown, stopped.json(), "status")

    deleted = await client.delete(f"{BASE}/{sandbox_id}", headers=VAULT)
    fits(example("DELETE", "/api/sandboxes/:id"), deleted.json())
    assert deleted.json()["success"] is True
    gone = await client.get(f"{BASE}/{sandbox_id}", headers=VAULT)
    assert_error(gone, 404, "NOT_FOUND", dialect="metamorph")


async def test_commands_run_in_the_workspace(client: httpx.AsyncClient) -> None:
    sandbox_id = await _running(client)
    run = await client.post(
        f"{BASE}/{sandbox_id}/execute", json={"command": "mkdir -p a/b"}, headers=VAULT
    )
    assert run.json()["exitCode"] == 0, run.json()
    pwd = await client.post(
        f"{BASE}/{sandbox_id}/execute", json={"command": "pwd", "cwd": "a/b"}, headers=VAULT
    )
    assert pwd.json()["stdout"].strip().endswith("/a/b")
    quoted = await client.post(
        f"{BASE}/{sandbox_id}/execute",
        json={"command": "echo 'one two' $HOME; ls"},
        headers=VAULT,
    )
    # no shell: the quotes group, `$HOME` and `;` are plain arguments
    assert quoted.json()["stdout"] == "one two $HOME; ls\n"
    failing = await client.post(
        f"{BASE}/{sandbox_id}/execute", json={"command": "cat missing.txt"}, headers=VAULT
    )
    assert failing.json()["success"] is False
    assert failing.json()["exitCode"] != 0
    assert "missing.txt" in failing.json()["stderr"]


async def test_environment(client: httpx.AsyncClient) -> None:
    shown = example("GET", "/api/sandboxes/:id")["environment"]
    sandbox_id = await _running(client, environment=shown)
    detail = await client.get(f"{BASE}/{sandbox_id}", headers=VAULT)
    assert detail.json()["environment"] == shown
    printed = await client.post(
        f"{BASE}/{sandbox_id}/execute",
        json={"command": "node -p process.env.NODE_ENV"},
        headers=VAULT,
    )
    assert printed.json()["stdout"] == f"{shown['NODE_ENV']}\n"


async def test_a_command_past_its_timeout_is_stopped(client: httpx.AsyncClient) -> None:
    sandbox_id = await _running(client)
    loop = await client.post(
        f"{BASE}/{sandbox_id}/execute",
        json={"command": "node -e 'for(;;){}'", "timeout": 500},
        headers=VAULT,
    )
    assert loop.status_code == 200, loop.text
    assert (loop.json()["success"], loop.json()["timedOut"]) == (False, True)
    assert loop.json()["executionTimeMs"] < 10_000


async def test_bad_commands_and_states(client: httpx.AsyncClient) -> None:
    sandbox_id = (await _created(client))["id"]
    not_running = await client.post(
        f"{BASE}/{sandbox_id}/execute", json={"command": "ls"}, headers=VAULT
    )
    assert_error(not_running, 409, "INVALID_STATE", dialect="metamorph")
    stop_pending = await client.post(f"{BASE}/{sandbox_id}/stop", headers=VAULT)
    assert_error(stop_pending, 409, "INVALID_STATE", dialect="metamorph")
    await client.post(f"{BASE}/{sandbox_id}/start", headers=VAULT)
    for command, code in (
        ("/bin/sh -c id", "COMMAND_NOT_ALLOWED"),
        ("echo 'unclosed", "INVALID_COMMAND"),
    ):
        response = await client.post(
            f"{BASE}/{sandbox_id}/execute", json={"command": command}, headers=VAULT
        )
        assert response.json()["code"] == code, response.text
    outside = await client.post(
        f"{BASE}/{sandbox_id}/execute", json={"command": "ls", "cwd": "../.."}, headers=VAULT
    )
    assert_error(outside, 400, "INVALID_CWD", dialect="metamorph")
    missing = await client.post(f"{BASE}/{sandbox_id}/execute", json={}, headers=VAULT)
    assert_error(missing, 400, "MISSING_COMMAND", dialect="metamorph")
    await client.delete(f"{BASE}/{sandbox_id}", headers=VAULT)
    terminated = await client.post(f"{BASE}/{sandbox_id}/start", headers=VAULT)
    assert_error(terminated, 404, "NOT_FOUND", dialect="metamorph")


async def test_files_that_leave_the_workspace_fail_alone(client: httpx.AsyncClient) -> None:
    sandbox_id = await _running(client)
    link = await client.post(
        f"{BASE}/{sandbox_id}/execute", json={"command": "mkdir real"}, headers=VAULT
    )
    assert link.json()["success"], link.json()
    files = [
        {"path": "ok.txt", "content": "fine"},
        {"path": "../escape.txt", "content": "no"},
        {"path": "/etc/passwd", "content": "no"},
        {"path": "/vercel/sandbox/real/inside.txt", "content": "yes"},
    ]
    written = await client.post(f"{BASE}/{sandbox_id}/files", json={"files": files}, headers=VAULT)
    body = written.json()
    assert [r["success"] for r in body["results"]] == [True, False, False, True]
    assert (body["successCount"], body["totalCount"]) == (2, 4)
    assert "outside" in body["results"][1]["error"]
    read = await client.post(
        f"{BASE}/{sandbox_id}/execute",
        json={"command": "cat real/inside.txt ok.txt"},
        headers=VAULT,
    )
    assert read.json()["stdout"] == "yesfine"


async def test_the_agent_runs_commands_in_its_sandbox(client: httpx.AsyncClient) -> None:
    sandbox_id = await _running(client)
    await client.post(
        f"{BASE}/{sandbox_id}/files",
        json={"files": [{"path": "notes.txt", "content": "agent-visible-42"}]},
        headers=VAULT,
    )
    attached = await client.post(f"{BASE}/{sandbox_id}/agent/attach", json={}, headers=VAULT)
    assert attached.status_code == 200, attached.text
    assert attached.json()["config"]["intensity"] == 50  # the basic template's default
    # the offline model calls the tool the message scripts, then reports what it returned
    reply = await client.post(
        f"{BASE}/{sandbox_id}/agent/chat",
        json={"message": 'Look.\n/tool sandbox_exec {"command": "cat notes.txt"}'},
        headers=VAULT,
    )
    assert reply.status_code == 200, reply.text
    assert "agent-visible-42" in reply.json()["response"]["message"]
    usage = await client.get(f"{BASE}/usage", headers=VAULT)
    assert usage.json()["usage"]["totalExecutions"] == 1  # the agent's command counts


async def test_chat_without_an_agent_is_refused(client: httpx.AsyncClient) -> None:
    sandbox_id = (await _created(client))["id"]
    response = await client.post(
        f"{BASE}/{sandbox_id}/agent/chat", json={"message": "hi"}, headers=VAULT
    )
    assert_error(response, 409, "INVALID_STATE", dialect="metamorph")


async def test_tier_limits(client: httpx.AsyncClient) -> None:
    too_big = await client.post(BASE, json={"name": "big", "vcpus": 64}, headers=VAULT)
    body = assert_error(too_big, 400, "INVALID_VCPUS", dialect="metamorph")
    assert "maxVcpus" in body["error"]
    bad_template = await client.post(BASE, json={"name": "x", "template": "nope"}, headers=VAULT)
    assert_error(bad_template, 400, "INVALID_TEMPLATE", dialect="metamorph")
    bad_dir = await client.post(
        BASE, json={"name": "x", "workingDirectory": "/usr/lib"}, headers=VAULT
    )
    assert_error(bad_dir, 400, "INVALID_WORKING_DIRECTORY", dialect="metamorph")
    usage = (await client.get(f"{BASE}/usage", headers=VAULT)).json()
    limit = usage["limits"]["maxSandboxes"]
    for index in range(limit):
        await _created(client, name=f"s{index}")
    refused = await client.post(BASE, json={"name": "one too many"}, headers=VAULT)
    shown = errors_shown("POST", "/api/sandboxes")["SANDBOX_LIMIT_REACHED"]
    body = assert_error(refused, 429, "SANDBOX_LIMIT_REACHED", dialect="metamorph")
    assert (body["currentCount"], body["limit"]) == (limit, limit)
    assert body["error"] == shown["error"].replace("(5)", f"({limit})")
    after = (await client.get(f"{BASE}/usage", headers=VAULT)).json()
    assert after["remaining"]["sandboxes"] == 0
    assert after["usage"]["totalSandboxesCreated"] == limit


async def test_another_vaults_sandbox_does_not_exist(client: httpx.AsyncClient) -> None:
    sandbox_id = await _running(client)
    for method, path in (
        ("GET", ""),
        ("DELETE", ""),
        ("POST", "/start"),
        ("POST", "/stop"),
        ("POST", "/agent/attach"),
    ):
        response = await client.request(method, f"{BASE}/{sandbox_id}{path}", headers=OTHER)
        assert_error(response, 404, "NOT_FOUND", dialect="metamorph")
    execute = await client.post(
        f"{BASE}/{sandbox_id}/execute", json={"command": "ls"}, headers=OTHER
    )
    assert_error(execute, 404, "NOT_FOUND", dialect="metamorph")
    assert (await client.get(BASE, headers=OTHER)).json()["total"] == 0


async def test_list_filters_and_pages(client: httpx.AsyncClient) -> None:
    first = (await _created(client, name="first"))["id"]
    await _running(client, name="second")
    running = (await client.get(BASE, params={"status": "running"}, headers=VAULT)).json()
    assert [s["name"] for s in running["sandboxes"]] == ["second"]
    paged = (await client.get(BASE, params={"limit": 1, "offset": 1}, headers=VAULT)).json()
    assert [s["id"] for s in paged["sandboxes"]] == [first]
    assert (paged["total"], paged["limit"], paged["offset"]) == (2, 1, 1)
    too_many = await client.get(BASE, params={"limit": 101}, headers=VAULT)
    assert_error(too_many, 400, "INVALID_LIMIT", dialect="metamorph")
