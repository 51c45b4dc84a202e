"""Seed 002 replayed against a real server: each documented request of a served route is sent
as a client of the seed would send it, and every field its response lists is checked there
with its JSON type. The field lists are read from the seed itself (`tests/contract/seeds.py`)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import websockets
from eth_account.signers.local import LocalAccount
from prometheus_client.parser import text_string_to_metric_families

from tests.contract import seeds
from tests.contract.specs.panthers import CONTRACT
from tests.dialects.panthers.conftest import SEED_NFT, Env, sign
from tests.utils.http import bearer

AGENT = f"/panthers/agents/{SEED_NFT}"


def listed(method: str, route: str, *, agent: bool) -> dict[str, str]:
    """The response fields the seed lists for this endpoint: name -> JSON type."""
    for endpoint in seeds.endpoints("002"):
        if (endpoint.method, endpoint.route) != (method, route):
            continue
        if ("Agent API" in endpoint.headings) != agent:
            continue
        example = endpoint.first("response")
        assert example is not None, endpoint
        assert example.fields, endpoint
        return example.fields
    raise AssertionError(f"seed 002 documents no {method} {route}")


def holds(body: dict[str, Any], fields: dict[str, str]) -> None:
    for name, kind in fields.items():
        assert name in body, f"{name} missing from {body}"
        value = body[name]
        if kind == "number":
            assert isinstance(value, int | float), (name, value)
            assert not isinstance(value, bool), (name, value)
        else:
            expected = {"string": str, "array": list, "object": dict, "boolean": bool}[kind]
            assert isinstance(value, expected), (name, value)


def check(response: httpx.Response, method: str, route: str, *, agent: bool = False) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    holds(body, listed(method, route, agent=agent))
    return body


async def test_every_served_example_is_answered_as_documented(
    env: Env, holders: dict[str, LocalAccount]
) -> None:
    wallet = holders[SEED_NFT]
    client = env.client
    replayed: set[str] = set()

    def done(key: str) -> None:
        replayed.add(key)

    # -- orchestrator: authentication
    issued = check(
        await client.post(
            "/panthers/auth/challenge",
            json={"wallet_address": wallet.address, "nft_token_id": SEED_NFT},
        ),
        "POST",
        "/auth/challenge",
    )
    done("POST /auth/challenge")
    session = check(
        await client.post(
            "/panthers/auth/verify",
            json={
                "wallet_address": wallet.address,
                "nft_token_id": SEED_NFT,
                "signature": sign(wallet, issued["message"]),
                "message": issued["message"],
            },
        ),
        "POST",
        "/auth/verify",
    )
    done("POST /auth/verify")
    refreshed = check(
        await client.post(
            "/panthers/auth/refresh", json={"refresh_token": session["refresh_token"]}
        ),
        "POST",
        "/auth/refresh",
    )
    done("POST /auth/refresh")

    # -- orchestrator: monitoring
    check(await client.get("/panthers/health"), "GET", "/health")
    done("GET /health")

    # -- agent API: public
    check(await client.get(f"{AGENT}/health"), "GET", "/health", agent=True)
    done("GET /agents/{}/health")
    check(await client.get(f"{AGENT}/info"), "GET", "/info", agent=True)
    done("GET /agents/{}/info")

    # -- agent API: its own sign-in, then chat
    issued = (
        await client.post(
            "/panthers/auth/challenge",
            json={"wallet_address": wallet.address, "nft_token_id": SEED_NFT},
        )
    ).json()
    agent_token = check(
        await client.post(
            f"{AGENT}/auth/verify",
            json={
                "wallet_address": wallet.address,
                "signature": sign(wallet, issued["message"]),
                "message": issued["message"],
            },
        ),
        "POST",
        "/auth/verify",
        agent=True,
    )
    done("POST /agents/{}/auth/verify")
    headers = bearer(agent_token["access_token"])
    answer = check(
        await client.post(f"{AGENT}/chat", json={"message": "Hello"}, headers=headers),
        "POST",
        "/chat",
        agent=True,
    )
    conversation = answer["conversation_id"]
    follow_up = await client.post(
        f"{AGENT}/chat",
        json={"message": "And again", "conversation_id": conversation, "stream": False},
        headers=headers,
    )
    assert check(follow_up, "POST", "/chat", agent=True)["conversation_id"] == conversation
    done("POST /agents/{}/chat")
    history = check(
        await client.get(
            f"{AGENT}/chat/history",
            params={"conversation_id": conversation, "limit": 50, "offset": 0},
            headers=headers,
        ),
        "GET",
        "/chat/history",
        agent=True,
    )
    assert history["total"] == 4
    done("GET /agents/{}/chat/history")
    check(
        await client.post(
            f"{AGENT}/chat/clear", json={"conversation_id": conversation}, headers=headers
        ),
        "POST",
        "/chat/clear",
        agent=True,
    )
    done("POST /agents/{}/chat/clear")

    # -- the WebSocket API, at the orchestrator
    async with websockets.connect(env.ws("/ws", refreshed["access_token"])) as socket:
        await socket.send(
            json.dumps({"type": "subscribe", "channel": "deployment", "nft_token_id": "123"})
        )
        assert json.loads(await socket.recv())["type"] == "subscribed"
        # the seed's chat_stream names the conversation; the message to answer travels with it
        await socket.send(
            json.dumps({"type": "chat_stream", "conversation_id": conversation, "message": "Hello"})
        )
        while True:
            chunk = json.loads(await socket.recv())
            assert chunk["type"] == "chat_chunk"
            assert isinstance(chunk["content"], str)
            assert isinstance(chunk["done"], bool)
            if chunk["done"]:
                break

    # -- orchestrator: deployments, a real agent process (provider local)
    orchestrator = bearer(refreshed["access_token"])
    deployed = check(
        await client.post(
            "/panthers/deployments",
            json={"nft_token_id": SEED_NFT, "provider": "local", "resources": {"cpu": 1}},
            headers=orchestrator,
        ),
        "POST",
        "/deployments",
    )
    done("POST /deployments")
    status = check(
        await client.get(f"/panthers/deployments/{SEED_NFT}", headers=orchestrator),
        "GET",
        "/deployments/{}",
    )
    assert status["deployment_id"] == deployed["deployment_id"]
    done("GET /deployments/{}")
    listed = check(
        await client.get(
            "/panthers/deployments",
            params={"status": status["status"], "provider": "local", "limit": 10, "offset": 0},
            headers=orchestrator,
        ),
        "GET",
        "/deployments",
    )
    assert listed["total"] == 1
    done("GET /deployments")
    check(
        await client.delete(f"/panthers/deployments/{SEED_NFT}", headers=orchestrator),
        "DELETE",
        "/deployments/{}",
    )
    done("DELETE /deployments/{}")

    # -- "Monitoring Endpoints": Prometheus text, read by prometheus-client's own parser
    scraped = await client.get("/panthers/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    families = {f.name for f in text_string_to_metric_families(scraped.text)}
    assert "menagerie_http_requests" in families
    done("GET /metrics")

    # -- last: logout ends the session
    check(
        await client.post("/panthers/auth/logout", headers=bearer(refreshed["access_token"])),
        "POST",
        "/auth/logout",
    )
    done("POST /auth/logout")

    documented = {CONTRACT.key(e) for e in seeds.endpoints("002")}
    assert documented - set(CONTRACT.pending) == replayed
