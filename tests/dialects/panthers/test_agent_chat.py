"""A Secret Panther's agent API (seed 002) over a real server: wallets signed in with real keys,
chat as JSON, SSE and over the WebSocket, history, clear, and one NFT's agent never reachable
with another NFT's token."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.server import serve

MINE, THEIRS = "77", "78"


def sign(account: LocalAccount, message: str) -> str:
    return (
        "0x"
        + bytes(Account.sign_message(encode_defunct(text=message), account.key).signature).hex()
    )


class Env:
    def __init__(self, client: httpx.AsyncClient, url: str, platform: Platform) -> None:
        self.client, self.url, self.platform = client, url, platform

    async def sign_in(self, account: LocalAccount, nft: str) -> dict[str, str]:
        issued = (
            await self.client.post(
                "/panthers/auth/challenge",
                json={"wallet_address": account.address, "nft_token_id": nft},
            )
        ).json()
        verified = await self.client.post(
            f"/panthers/agents/{nft}/auth/verify",
            json={
                "wallet_address": account.address,
                "signature": sign(account, issued["message"]),
                "message": issued["message"],
            },
        )
        assert verified.status_code == 200, verified.text
        return {"Authorization": f"Bearer {verified.json()['access_token']}"}


@pytest.fixture
def holders() -> dict[str, LocalAccount]:
    return {MINE: Account.create(), THEIRS: Account.create()}


@pytest.fixture
async def env(
    settings: Settings, tmp_path: Path, holders: dict[str, LocalAccount]
) -> AsyncIterator[Env]:
    owners = tmp_path / "owners.json"
    owners.write_text(json.dumps({nft: account.address for nft, account in holders.items()}))
    platform = Platform.build(
        settings.model_copy(
            update={
                "nft_owners_file": owners,
                "rate_limits_enabled": False,
                "offline_token_delay_ms": 0,
            }
        )
    )
    async with (
        serve(create_app(platform=platform)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        yield Env(client, url, platform)


async def test_public_health_and_info(env: Env) -> None:
    health = (await env.client.get(f"/panthers/agents/{MINE}/health")).json()
    assert set(health) == {"status", "version", "uptime"}
    info = (await env.client.get(f"/panthers/agents/{MINE}/info")).json()
    assert info["nft_token_id"] == MINE
    assert info["model"] == "menagerie-offline"
    assert info["status"] == "running"
    assert "chat" in info["capabilities"]


async def test_chat_history_and_clear(env: Env, holders: dict[str, LocalAccount]) -> None:
    mine = await env.sign_in(holders[MINE], MINE)
    base = f"/panthers/agents/{MINE}"
    first = await env.client.post(f"{base}/chat", json={"message": "hello panther"}, headers=mine)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert set(answer) == {"response", "conversation_id", "timestamp", "tokens_used"}
    conversation = answer["conversation_id"]
    await env.client.post(
        f"{base}/chat", json={"message": "again", "conversation_id": conversation}, headers=mine
    )
    history = (
        await env.client.get(
            f"{base}/chat/history", params={"conversation_id": conversation}, headers=mine
        )
    ).json()
    assert history["total"] == 4
    assert history["conversation_id"] == conversation
    assert [m["role"] for m in history["messages"]] == ["user", "assistant"] * 2
    paged = (
        await env.client.get(
            f"{base}/chat/history",
            params={"conversation_id": conversation, "limit": 1, "offset": 1},
            headers=mine,
        )
    ).json()
    assert [m["role"] for m in paged["messages"]] == ["assistant"]

    cleared = await env.client.post(
        f"{base}/chat/clear", json={"conversation_id": conversation}, headers=mine
    )
    assert cleared.status_code == 200
    assert "4" in cleared.json()["message"]
    after = (
        await env.client.get(
            f"{base}/chat/history", params={"conversation_id": conversation}, headers=mine
        )
    ).json()
    assert after["total"] == 0


async def test_streamed_chat_over_sse(env: Env, holders: dict[str, LocalAccount]) -> None:
    mine = await env.sign_in(holders[MINE], MINE)
    events: list[dict[str, Any]] = []
    async with env.client.stream(
        "POST",
        f"/panthers/agents/{MINE}/chat",
        json={"message": "stream please", "stream": True},
        headers=mine,
    ) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
    assert all(e["type"] == "chat_chunk" for e in events)
    assert [e["done"] for e in events][-1] is True
    assert sum(not e["done"] for e in events) > 1


async def test_websocket_chat_stream(env: Env, holders: dict[str, LocalAccount]) -> None:
    mine = await env.sign_in(holders[MINE], MINE)
    token = mine["Authorization"].removeprefix("Bearer ")
    ws_url = env.url.replace("http://", "ws://") + f"/panthers/agents/{MINE}/ws?token={token}"
    async with websockets.connect(ws_url) as socket:
        await socket.send(json.dumps({"type": "chat_stream", "message": "hi over the socket"}))
        chunks = []
        while True:
            event = json.loads(await socket.recv())
            assert event["type"] == "chat_chunk"
            chunks.append(event)
            if event["done"]:
                break
        assert len(chunks) > 2
        await socket.send(json.dumps({"type": "subscribe"}))
        refused = json.loads(await socket.recv())
        assert refused["error"]["code"] == "INVALID_REQUEST"
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(ws_url.replace(token, "not-a-token")):
            pass


async def test_one_nfts_token_never_reaches_another_agent(
    env: Env, holders: dict[str, LocalAccount]
) -> None:
    mine = await env.sign_in(holders[MINE], MINE)
    theirs = await env.sign_in(holders[THEIRS], THEIRS)
    answer = (
        await env.client.post(f"/panthers/agents/{MINE}/chat", json={"message": "x"}, headers=mine)
    ).json()
    wrong_agent = await env.client.post(
        f"/panthers/agents/{THEIRS}/chat", json={"message": "x"}, headers=mine
    )
    assert wrong_agent.status_code == 403
    assert wrong_agent.json()["error"]["code"] == "FORBIDDEN"
    # the other holder cannot read or clear our conversation through their own agent
    for response in (
        await env.client.get(
            f"/panthers/agents/{THEIRS}/chat/history",
            params={"conversation_id": answer["conversation_id"]},
            headers=theirs,
        ),
        await env.client.post(
            f"/panthers/agents/{THEIRS}/chat/clear",
            json={"conversation_id": answer["conversation_id"]},
            headers=theirs,
        ),
    ):
        assert response.status_code == 404
    anonymous = await env.client.post(f"/panthers/agents/{MINE}/chat", json={"message": "x"})
    assert anonymous.status_code == 401
    missing = await env.client.get(f"/panthers/agents/{MINE}/chat/history", headers=mine)
    assert missing.status_code == 400
