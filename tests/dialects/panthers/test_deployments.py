"""Panthers deployments over a real server: a `local` deployment is a real agent process on
its own loopback port, answering the seed's agent API; the supervisor starts it again after
a SIGKILL; DELETE leaves no process behind. Updates reach the orchestrator's `/ws`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from eth_account.signers.local import LocalAccount
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection

from menagerie.core.deployments.process import process_command_line
from tests.contract import seeds
from tests.dialects.panthers.conftest import MINE, THEIRS, Env, sign
from tests.utils.http import bearer

# one process per deployment: SQLite is enough here, the rows are tested on both databases
# in tests/core/deployments
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SEED_CODES = seeds.error_codes("002", "Error Codes")
DEADLINE_S = 60


def deployments_gauge(response: httpx.Response) -> float:
    """`deployments_active` from Panthers' `/metrics`, read by prometheus-client's parser."""
    assert response.status_code == 200, response.text
    for family in text_string_to_metric_families(response.text):
        if family.name == "deployments_active":
            return family.samples[0].value
    raise AssertionError("no deployments_active on /panthers/metrics")


async def receive(socket: ClientConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(socket.recv(), timeout=DEADLINE_S))


async def updates_until(socket: ClientConnection, status: str) -> list[dict[str, Any]]:
    """`deployment_status` updates, up to the first with this status."""
    seen = []
    while True:
        event = await receive(socket)
        assert event["type"] == "deployment_status", event
        seen.append(event)
        if event["status"] == status:
            return seen


def agent_processes(env: Env) -> list[int]:
    """Agent processes of this test's server running on the machine now (orphans included):
    the ones started with its data directory in their environment."""
    marker = str(env.platform.settings.resolved_data_dir).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        line = process_command_line(int(entry.name))
        if not line or "menagerie.dialects.panthers.agent_app" not in line:
            continue
        try:
            environment = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environment:
            found.append(int(entry.name))
    return found


async def healthy_deployment(env: Env, headers: dict[str, str], *, not_pid: int) -> dict[str, Any]:
    """The deployment once its probe answers healthy from a process other than `not_pid`."""
    async with asyncio.timeout(DEADLINE_S):
        while True:
            response = await env.client.get(f"/panthers/deployments/{MINE}", headers=headers)
            assert response.status_code == 200, response.text
            body = response.json()
            health = body["health"]
            if health["status"] == "healthy" and health["pid"] not in (None, not_pid):
                return body
            await asyncio.sleep(0.1)


async def test_a_local_deployment_is_a_supervised_agent_process(
    env: Env, holders: dict[str, LocalAccount]
) -> None:
    wallet = holders[MINE]
    token = (await env.sign_in(wallet, MINE))["access_token"]
    headers = bearer(token)
    async with websockets.connect(env.ws("/ws", token)) as socket:
        await socket.send(
            json.dumps({"type": "subscribe", "channel": "deployment", "nft_token_id": MINE})
        )
        assert (await receive(socket))["type"] == "subscribed"

        deployed = await env.client.post(
            "/panthers/deployments",
            json={"nft_token_id": MINE, "provider": "local", "resources": {"memory_mb": 512}},
            headers=headers,
        )
        assert deployed.status_code == 200, deployed.text
        body = deployed.json()
        assert body["status"] == "running", body
        assert body["estimated_time"] == 0
        url = body["endpoint_url"]
        assert url.startswith("http://127.0.0.1:")

        # the updates, as the deployment moved, in order of progress
        moved = await updates_until(socket, "running")
        assert [u["progress"] for u in moved] == sorted(u["progress"] for u in moved)
        assert moved[0]["status"] == "deploying"
        assert moved[-1]["progress"] == 100
        assert {u["deployment_id"] for u in moved} == {body["deployment_id"]}

        # the process answers the seed's agent API at its own root
        async with httpx.AsyncClient(base_url=url, timeout=10) as agent:
            info = await agent.get("/info")
            assert info.status_code == 200, info.text
            assert info.json()["nft_token_id"] == MINE
            issued = await env.challenge(wallet, MINE)
            verified = await agent.post(
                "/auth/verify",
                json={
                    "wallet_address": wallet.address,
                    "signature": sign(wallet, issued["message"]),
                    "message": issued["message"],
                },
            )
            assert verified.status_code == 200, verified.text
            agent_headers = bearer(verified.json()["access_token"])
            answer = await agent.post("/chat", json={"message": "Hello"}, headers=agent_headers)
            assert answer.status_code == 200, answer.text
            assert answer.json()["response"]
            conversation = answer.json()["conversation_id"]
            # the same database as the server's: the turn is in the orchestrator's history too
            history = await env.client.get(
                f"/panthers/agents/{MINE}/chat/history",
                params={"conversation_id": conversation},
                headers=agent_headers,
            )
            assert history.json()["total"] == 2

        status = await env.client.get(f"/panthers/deployments/{MINE}", headers=headers)
        assert status.status_code == 200, status.text
        first = status.json()
        assert first["health"]["status"] == "healthy"
        assert first["resources"]["memory_mb"] == 512
        pid = first["health"]["pid"]
        assert agent_processes(env) == [pid]
        assert (await env.client.get("/panthers/health")).json()["deployments_active"] == 1
        assert deployments_gauge(await env.client.get("/panthers/metrics")) == 1

        # killed outright, it is started again, on the same address
        os.kill(pid, signal.SIGKILL)
        again = await healthy_deployment(env, headers, not_pid=pid)
        assert again["restarts"] >= 1
        assert again["health"]["last_exit"]
        assert again["endpoint_url"] == url
        restarted = await updates_until(socket, "running")
        assert restarted[0]["status"] == "deploying"
        async with httpx.AsyncClient(base_url=url, timeout=10) as agent:
            assert (await agent.get("/info")).json()["nft_token_id"] == MINE

        stopped = await env.client.delete(f"/panthers/deployments/{MINE}", headers=headers)
        assert stopped.status_code == 200, stopped.text
        assert stopped.json()["status"] == "stopped"
        assert (await updates_until(socket, "stopped"))[-1]["progress"] == 100
        assert deployments_gauge(await env.client.get("/panthers/metrics")) == 0

    assert agent_processes(env) == []
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=url, timeout=5) as agent:
            await agent.get("/health")
    listed = await env.client.get(
        "/panthers/deployments", params={"status": "stopped"}, headers=headers
    )
    assert listed.json()["total"] == 1
    assert listed.json()["deployments"][0]["deployment_id"] == body["deployment_id"]
    # stopped, it is history: listed, no longer the NFT's deployment
    after = await env.client.get(f"/panthers/deployments/{MINE}", headers=headers)
    assert after.status_code == 404, after.text
    assert after.json()["error"]["code"] == "NOT_FOUND"
    assert (await env.client.get("/panthers/health")).json()["deployments_active"] == 0


@pytest.mark.parametrize("provider", ["secret_vm", "akash"])
async def test_remote_providers_are_unavailable_and_name_what_is_missing(
    env: Env, holders: dict[str, LocalAccount], provider: str
) -> None:
    headers = bearer((await env.sign_in(holders[MINE], MINE))["access_token"])
    response = await env.client.post(
        "/panthers/deployments",
        json={"nft_token_id": MINE, "provider": provider},
        headers=headers,
    )
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "SERVICE_UNAVAILABLE"
    assert error["details"]["provider"] == provider
    assert "not configured" in error["details"]["missing"]
    # nothing was recorded as deployed
    listed = await env.client.get("/panthers/deployments", headers=headers)
    assert listed.json()["total"] == 0
    missing = await env.client.get(f"/panthers/deployments/{MINE}", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOT_FOUND"


async def test_another_nfts_deployment_is_refused(
    env: Env, holders: dict[str, LocalAccount], owners_file: Path
) -> None:
    theirs = bearer((await env.sign_in(holders[THEIRS], THEIRS))["access_token"])
    mine = bearer((await env.sign_in(holders[MINE], MINE))["access_token"])
    for method, path, body in (
        ("POST", "/panthers/deployments", {"nft_token_id": MINE, "provider": "local"}),
        ("GET", f"/panthers/deployments/{MINE}", None),
        ("DELETE", f"/panthers/deployments/{MINE}", None),
    ):
        response = await env.client.request(method, path, json=body, headers=theirs)
        assert response.status_code == 403, (method, response.text)
        error = response.json()["error"]
        assert error["code"] == "FORBIDDEN"
        assert error["code"] in SEED_CODES
        assert error["details"]["reason"] == "NFT_MISMATCH"
    # once the NFT moves to another wallet, the session signed in for it acts no more
    owners = json.loads(owners_file.read_text())
    owners[MINE] = holders[THEIRS].address
    owners_file.write_text(json.dumps(owners))
    response = await env.client.get(f"/panthers/deployments/{MINE}", headers=mine)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["details"]["reason"] == "NFT_NOT_OWNED"
