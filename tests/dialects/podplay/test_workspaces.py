"""PodPlay's development workspaces (seed 000) over a real server: the seed's examples replayed
field by field, list filters, the lifecycle, tier and type refusals, another tenant's
workspace, `workspace_status` to the owner's clients only, and terminal sessions over
socket.io whose shells do not outlive their workspace."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import psutil
import pytest

from menagerie.app import create_app
from menagerie.core.events.bus import Subscription
from menagerie.core.sandboxes.events import STATUS_TOPIC
from menagerie.core.sandboxes.terminals import TerminalSettings
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.envelopes import ISO, assert_error
from tests.utils.http import bearer
from tests.utils.seed_examples import assert_shaped_like, event_payload, example
from tests.utils.server import serve
from tests.utils.socket_events import EventClient

TOKEN = "test-master-key-0123456789abcdef"  # conftest's master key
BASE = "/api/workspaces"
WAIT_S = 20
# the seed shows forwarded ports; none are forwarded here (docs/contract.md)
FREE = frozenset({"workspaces[].port_mappings"})


def seed(method: str, path: str, kind: str = "response") -> Any:
    return example("000", method, path, kind)


@dataclass
class Env:
    url: str
    platform: Platform
    http: httpx.AsyncClient
    statuses: Subscription  # every sandbox.status event, to wait on


@contextlib.asynccontextmanager
async def environment(settings: Settings, **update: Any) -> AsyncIterator[Env]:
    # the workspace routes allow 10 a minute (seed 000): more than one test's worth
    changes = {"rate_limits": {"podplay.workspaces": "unlimited"}, **update}
    platform = Platform.build(settings.model_copy(update=changes))
    async with (
        serve(create_app(platform=platform)) as url,
        httpx.AsyncClient(base_url=f"{url}/podplay", headers=bearer(TOKEN), timeout=30) as http,
    ):
        statuses = await platform.events.subscribe(STATUS_TOPIC)
        try:
            yield Env(url, platform, http, statuses)
        finally:
            await platform.events.unsubscribe(statuses)


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[Env]:
    async with environment(settings) as value:
        yield value


async def wait_status(env: Env, workspace_id: str, status: str) -> dict[str, Any]:
    """The next status event of the workspace that reaches `status` (core's word)."""
    async with asyncio.timeout(WAIT_S):
        while True:
            event = await env.statuses.get()
            assert event is not None
            payload = event.payload
            if payload["sandbox_id"] == workspace_id and payload["status"] == status:
                return payload


async def create(env: Env, **body: Any) -> dict[str, Any]:
    sent = {"name": "dev", "type": "nixos", **body}
    response = await env.http.post(BASE, json=sent)
    assert response.status_code == 201, response.text
    return response.json()


async def running(env: Env, **body: Any) -> str:
    workspace_id = (await create(env, auto_start=True, **body))["workspace_id"]
    done = await wait_status(env, workspace_id, "running")
    assert done["progress"] == 100
    return workspace_id


class Client(EventClient):
    """A python-socketio client that keeps every event it hears."""

    async def connect(self, url: str, token: str) -> Client:
        await self.sio.connect(
            url, auth={"token": token}, transports=["websocket"], wait_timeout=WAIT_S
        )
        await self.next("connected")
        return self

    async def output(self, session_id: str, text: str, output_type: str) -> str:
        """The session's output of that type, read until it holds `text` (one command's
        output may come in several events)."""
        seen = ""
        async with asyncio.timeout(WAIT_S):
            while text not in seen:
                data = await self.next("terminal_output", session_id=session_id)
                if data["output_type"] == output_type:
                    seen += data["output"]
        return seen


def shells() -> set[int]:
    """This process's live descendants: the server runs in it, so its shells are here."""
    found = set()
    for child in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                found.add(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found


# --- the seed, replayed ---------------------------------------------------------------------


async def test_the_seed_replayed(env: Env) -> None:
    request = seed("POST", "/api/workspaces", "request")
    created = await env.http.post(BASE, json=request)
    assert created.status_code == 201, created.text
    body = created.json()
    assert_shaped_like(seed("POST", "/api/workspaces"), body)
    assert body["status"] == "creating"
    assert body["name"] == request["name"]
    assert body["type"] == "nixos"
    workspace_id = body["workspace_id"]
    # the workspace's own resource on this server, under PodPlay's mount
    assert body["access_url"] == f"{env.url}/podplay{BASE}/{workspace_id}"
    await wait_status(env, workspace_id, "running")

    listed = await env.http.get(BASE)
    assert listed.status_code == 200, listed.text
    assert_shaped_like(seed("GET", "/api/workspaces"), listed.json(), free=FREE)
    [item] = listed.json()["workspaces"]
    assert item["workspace_id"] == workspace_id
    assert item["status"] == "running"
    assert item["configuration"] == {
        "memory": "8GB",
        "cpu_cores": 4,
        "disk_space": "20GB",
        "packages": ["python39", "jupyter", "tensorflow", "git"],
    }
    assert item["port_mappings"] == {}
    assert item["template"] == "python-ml"
    assert ISO.match(item["created_at"])
    assert ISO.match(item["last_accessed"])
    detail = await env.http.get(body["access_url"])
    assert detail.status_code == 200, detail.text
    assert detail.json()["workspace_id"] == workspace_id

    again = await env.http.post(f"{BASE}/{workspace_id}/start")
    refused = assert_error(again, 409, "INVALID_INPUT", dialect="podplay")
    assert refused["details"]["reason"] == "ALREADY_RUNNING"

    stopped = await env.http.post(f"{BASE}/{workspace_id}/stop")
    assert stopped.status_code == 200, stopped.text
    assert_shaped_like(seed("POST", "/api/workspaces/{workspace_id}/stop"), stopped.json())
    assert stopped.json()["status"] == "stopping"
    assert stopped.json()["data_preserved"] is True
    await wait_status(env, workspace_id, "stopped")

    started = await env.http.post(f"{BASE}/{workspace_id}/start")
    assert started.status_code == 200, started.text
    assert_shaped_like(seed("POST", "/api/workspaces/{workspace_id}/start"), started.json())
    assert started.json()["status"] == "starting"
    # a start was measured: the estimate is that figure, never a constant
    estimate = started.json()["estimated_start_time"]
    assert estimate == "under 1 second" or estimate.startswith("about "), estimate
    await wait_status(env, workspace_id, "running")

    deleted = await env.http.delete(f"{BASE}/{workspace_id}")
    assert deleted.status_code == 200, deleted.text
    assert_shaped_like(seed("DELETE", "/api/workspaces/{workspace_id}"), deleted.json())
    assert deleted.json()["data_backup_available"] is False
    gone = await env.http.get(f"{BASE}/{workspace_id}")
    assert_error(gone, 404, "RESOURCE_NOT_FOUND", dialect="podplay")
    assert (await env.http.get(BASE)).json()["workspaces"] == []


async def test_a_setup_estimate_before_any_start_says_so(env: Env) -> None:
    body = await create(env)
    assert body["status"] == "stopped"  # created, not started: the seed's default status
    assert body["estimated_setup_time"].startswith("not measured yet")


async def test_list_filters(env: Env) -> None:
    idle = (await create(env, name="idle", type="codespace"))["workspace_id"]
    busy = await running(env, name="busy")

    async def ids(**params: str) -> list[str]:
        response = await env.http.get(BASE, params=params)
        assert response.status_code == 200, response.text
        return [w["workspace_id"] for w in response.json()["workspaces"]]

    assert await ids() == [busy, idle]  # newest first
    assert await ids(type="codespace") == [idle]
    assert await ids(type="nixos") == [busy]
    assert await ids(type="docker") == []
    assert await ids(status="stopped") == [idle]
    assert await ids(status="running") == [busy]
    assert await ids(status="running", type="codespace") == []
    assert await ids(status="paused") == []  # nothing here is ever paused
    for bad in ({"status": "asleep"}, {"type": "vm"}):
        response = await env.http.get(BASE, params=bad)
        assert_error(response, 422, "INVALID_INPUT", dialect="podplay")


async def test_sizes_are_read_and_checked(env: Env) -> None:
    body = await create(env, configuration={"memory": "1536MB", "disk_space": "1.5GB"})
    [item] = (await env.http.get(BASE)).json()["workspaces"]
    assert item["workspace_id"] == body["workspace_id"]
    assert item["configuration"]["memory"] == "1536MB"
    assert item["configuration"]["disk_space"] == "1536MB"

    for field, value in (("memory", "8XB"), ("memory", "0MB"), ("disk_space", "lots")):
        response = await env.http.post(
            BASE, json={"name": "bad", "type": "nixos", "configuration": {field: value}}
        )
        refused = assert_error(response, 422, "INVALID_INPUT", dialect="podplay")
        assert refused["details"]["field"] == f"configuration.{field}", refused
    # above the tier (pro: 8GB, 4 cores), said in PodPlay's field names
    for field, value in (("memory", "64GB"), ("cpu_cores", 16)):
        response = await env.http.post(
            BASE, json={"name": "big", "type": "nixos", "configuration": {field: value}}
        )
        refused = assert_error(response, 422, "INVALID_INPUT", dialect="podplay")
        assert refused["details"]["field"] == f"configuration.{field}", refused
        assert refused["details"]["tier"] == "pro"


async def test_the_tier_limit_is_workspace_limit_exceeded(settings: Settings) -> None:
    async with environment(settings, sandbox_tier="free") as env:
        await create(env)
        response = await env.http.post(BASE, json={"name": "second", "type": "nixos"})
        refused = assert_error(response, 429, "WORKSPACE_LIMIT_EXCEEDED", dialect="podplay")
        assert refused["details"]["reason"] == "SANDBOX_LIMIT_REACHED"
        assert refused["details"]["limit"] == 1


async def test_docker_needs_an_engine_this_server_does_not_drive(env: Env) -> None:
    response = await env.http.post(BASE, json={"name": "box", "type": "docker"})
    refused = assert_error(response, 503, "SERVICE_UNAVAILABLE", dialect="podplay")
    assert refused["details"]["reason"] == "DOCKER_UNAVAILABLE"
    assert "Docker" in refused["error"]
    assert (await env.http.get(BASE)).json()["workspaces"] == []


async def test_another_tenants_workspace_does_not_exist(env: Env) -> None:
    workspace_id = (await create(env))["workspace_id"]
    issued = await env.platform.api_tokens.issue_for_tenant("acme", "acme admin")
    headers = bearer(issued.token)
    assert (await env.http.get(BASE, headers=headers)).json()["workspaces"] == []
    for method, path in (
        ("GET", f"{BASE}/{workspace_id}"),
        ("POST", f"{BASE}/{workspace_id}/start"),
        ("POST", f"{BASE}/{workspace_id}/stop"),
        ("DELETE", f"{BASE}/{workspace_id}"),
    ):
        response = await env.http.request(method, path, headers=headers)
        assert_error(response, 404, "RESOURCE_NOT_FOUND", dialect="podplay")
    assert (await env.http.get(f"{BASE}/{workspace_id}")).status_code == 200


# --- socket.io ------------------------------------------------------------------------------


async def test_workspace_status_reaches_the_owner_only(env: Env) -> None:
    issued = await env.platform.api_tokens.issue_for_tenant("acme", "acme admin")
    owner = await Client().connect(env.url, TOKEN)
    other = await Client().connect(env.url, issued.token)
    try:
        workspace_id = (await create(env, auto_start=True))["workspace_id"]
        shown = event_payload("000", "`workspace_status`")
        first = await owner.next("workspace_status", workspace_id=workspace_id)
        assert_shaped_like(shown, first)
        assert first["status"] == "starting"
        done = await owner.next("workspace_status", workspace_id=workspace_id, status="running")
        assert_shaped_like(shown, done)
        assert done["progress"] == 100
        assert done["logs"]  # what each step said

        # the other tenant's own workspace: its events come after any sent to it before
        acme = httpx.AsyncClient(base_url=env.http.base_url, headers=bearer(issued.token))
        async with acme:
            response = await acme.post(
                BASE, json={"name": "x", "type": "nixos", "auto_start": True}
            )
            assert response.status_code == 201, response.text
        theirs = response.json()["workspace_id"]
        await other.next("workspace_status", workspace_id=theirs, status="running")
        heard = {data["workspace_id"] for name, data in other.heard if name == "workspace_status"}
        assert heard == {theirs}
    finally:
        await owner.sio.disconnect()
        await other.sio.disconnect()


async def test_terminal_round_trip_and_no_shell_outlives_the_workspace(env: Env) -> None:
    before = shells()
    workspace_id = await running(env)
    owner = await Client().connect(env.url, TOKEN)
    try:
        await owner.sio.emit(
            "terminal_input",
            {"session_id": "term_xyz789", "workspace_id": workspace_id, "command": "echo hello"},
        )
        said = await owner.next("terminal_output", session_id="term_xyz789", output_type="stdout")
        assert_shaped_like(event_payload("000", "`terminal_output`"), said)
        assert said["workspace_id"] == workspace_id
        assert said["output"].startswith("hello")
        assert ISO.match(said["timestamp"])

        await owner.sio.emit(
            "terminal_input",
            {"session_id": "term_xyz789", "workspace_id": workspace_id, "command": "ls /nope"},
        )
        await owner.output("term_xyz789", "/nope", "stderr")
        # the shell persists: what one command sets, the next one sees
        for command in ("cd /tmp && X=kept", "pwd; echo $X"):
            await owner.sio.emit(
                "terminal_input",
                {"session_id": "term_xyz789", "workspace_id": workspace_id, "command": command},
            )
        await owner.output("term_xyz789", "/tmp\nkept", "stdout")
        assert shells() - before, "the session's shell runs in this process tree"

        stopped = await env.http.post(f"{BASE}/{workspace_id}/stop")
        assert stopped.status_code == 200, stopped.text
        await wait_status(env, workspace_id, "stopped")  # the stop hooks ran before it
        closed = await owner.next("terminal_output", session_id="term_xyz789", output_type="system")
        assert "stopped" in closed["output"]
        assert shells() <= before, "a shell outlived its workspace"

        await owner.sio.emit(
            "terminal_input",
            {"session_id": "term_xyz789", "workspace_id": workspace_id, "command": "echo again"},
        )
        refused = await owner.next("terminal_output", output_type="error")
        assert refused["error_code"] == "INVALID_INPUT"
        assert refused["details"]["reason"] == "INVALID_STATE"
    finally:
        await owner.sio.disconnect()


async def test_terminal_refusals_and_limits(env: Env) -> None:
    workspace_id = await running(env)
    issued = await env.platform.api_tokens.issue_for_tenant("acme", "acme admin")
    owner = await Client().connect(env.url, TOKEN)
    other = await Client().connect(env.url, issued.token)
    try:
        # another tenant's workspace does not exist for it, and its output does not reach it
        await other.sio.emit(
            "terminal_input",
            {"session_id": "t1", "workspace_id": workspace_id, "command": "echo leak"},
        )
        refused = await other.next("terminal_output", output_type="error")
        assert refused["error_code"] == "RESOURCE_NOT_FOUND"
        await owner.sio.emit("terminal_input", {"session_id": "t1", "command": "echo x"})
        refused = await owner.next("terminal_output", output_type="error")
        assert refused["error_code"] == "INVALID_INPUT"

        # five sessions a workspace; ten commands a minute (both refusals count as commands)
        for n in range(5):
            await owner.sio.emit(
                "terminal_input",
                {"session_id": f"s{n}", "workspace_id": workspace_id, "command": f"echo n{n}"},
            )
            await owner.output(f"s{n}", f"n{n}", "stdout")
        await owner.sio.emit(
            "terminal_input", {"session_id": "s5", "workspace_id": workspace_id, "command": "true"}
        )
        refused = await owner.next("terminal_output", output_type="error")
        assert refused["error_code"] == "INSUFFICIENT_QUOTA"
        assert refused["details"]["reason"] == "TERMINAL_SESSION_LIMIT"
        assert env.platform.terminals.count(workspace_id) == 5
        for n in range(4):
            await owner.sio.emit(
                "terminal_input",
                {"session_id": "s0", "workspace_id": workspace_id, "command": f"echo m{n}"},
            )
            await owner.output("s0", f"m{n}", "stdout")
        await owner.sio.emit(
            "terminal_input", {"session_id": "s0", "workspace_id": workspace_id, "command": "true"}
        )
        refused = await owner.next("terminal_output", output_type="error")
        assert refused["error_code"] == "RATE_LIMITED"
        assert refused["details"]["limit"] == 10
        assert refused["details"]["window"] == "1 minute"
        # the other tenant heard its own refusal, and none of the owner's output
        heard = [d["output_type"] for name, d in other.heard if name == "terminal_output"]
        assert heard == ["error"]
    finally:
        await owner.sio.disconnect()
        await other.sio.disconnect()


async def test_idle_and_exited_sessions_close(env: Env) -> None:
    env.platform.terminals.settings = TerminalSettings(idle_s=0.3)
    workspace_id = await running(env)
    owner = await Client().connect(env.url, TOKEN)
    try:
        message = {"session_id": "quiet", "workspace_id": workspace_id, "command": "echo hi"}
        await owner.sio.emit("terminal_input", message)
        await owner.output("quiet", "hi", "stdout")
        closed = await owner.next("terminal_output", session_id="quiet", output_type="system")
        assert "idle" in closed["output"]
        assert env.platform.terminals.count(workspace_id) == 0

        await owner.sio.emit(
            "terminal_input", {**message, "session_id": "bye", "command": "exit 3"}
        )
        ended = await owner.next("terminal_output", session_id="bye", output_type="system")
        assert "exit code 3" in ended["output"]
        # the same id starts a fresh shell
        await owner.sio.emit("terminal_input", {**message, "session_id": "bye"})
        await owner.output("bye", "hi", "stdout")
    finally:
        await owner.sio.disconnect()


async def test_deleting_or_stopping_the_server_leaves_no_shell(settings: Settings) -> None:
    before = shells()
    async with environment(settings) as env:
        first, second = await running(env, name="a"), await running(env, name="b")
        owner = await Client().connect(env.url, TOKEN)
        try:
            for workspace_id in (first, second):
                await owner.sio.emit(
                    "terminal_input",
                    {"session_id": "t", "workspace_id": workspace_id, "command": "echo up"},
                )
                await owner.output("t", "up", "stdout")
            deleted = await env.http.delete(f"{BASE}/{first}")
            assert deleted.status_code == 200, deleted.text
            assert env.platform.terminals.count(first) == 0
            assert env.platform.terminals.count(second) == 1
        finally:
            await owner.sio.disconnect()
    # the server stopped with a session open in `second`
    assert shells() <= before
