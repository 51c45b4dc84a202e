"""A Secret Panther's agent API (seed 002) over a real server: wallets signed in with real keys,
chat as JSON and SSE, history, clear, `/info` and `/health` decided from what core knows, and
one NFT's agent never reachable with another NFT's token."""

from __future__ import annotations

import json
from typing import Any

from eth_account.signers.local import LocalAccount

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.dialects.panthers.conftest import MINE, THEIRS, Env
from tests.utils.envelopes import assert_error
from tests.utils.server import client_for


async def test_public_health_and_info(env: Env) -> None:
    health = await env.client.get(f"/panthers/agents/{MINE}/health")
    assert health.status_code == 200, health.text
    assert set(health.json()) == {"status", "version", "uptime"}
    info = (await env.client.get(f"/panthers/agents/{MINE}/info")).json()
    assert info["nft_token_id"] == MINE
    assert info["model"] == "menagerie-offline"
    assert info["status"] == "running"
    assert MINE in info["status_basis"]
    assert "chat" in info["capabilities"]
    # `077` is NFT 77
    assert (await env.client.get("/panthers/agents/077/info")).json()["nft_token_id"] == MINE


async def test_an_nft_that_does_not_exist_has_no_agent(env: Env) -> None:
    """Fault: `/info` said `running` for any numeric id."""
    for path in ("/panthers/agents/999/info", "/panthers/agents/999/health"):
        body = assert_error(await env.client.get(path), 404, "NOT_FOUND", dialect="panthers")
        assert body["error"]["details"]["reason"] == "NFT_NOT_FOUND"
    assert_error(
        await env.client.get("/panthers/agents/not-a-number/info"),
        400,
        "INVALID_FIELD",
        dialect="panthers",
    )


async def test_status_is_unknown_when_ownership_cannot_be_read(settings: Settings) -> None:
    """No ownership source: whether the NFT exists is not known, and `/info` says so."""
    platform = Platform.build(settings.model_copy(update={"rate_limits_enabled": False}))
    async with client_for(create_app(platform=platform)) as client:
        info = (await client.get(f"/panthers/agents/{MINE}/info")).json()
    assert info["status"] == "unknown"
    assert "not known" in info["status_basis"]


async def test_chat_history_and_clear(env: Env, holders: dict[str, LocalAccount]) -> None:
    mine = await env.agent_sign_in(holders[MINE], MINE)
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
    assert cleared.json()["messages_removed"] == 4
    after = (
        await env.client.get(
            f"{base}/chat/history", params={"conversation_id": conversation}, headers=mine
        )
    ).json()
    assert after["total"] == 0


async def test_a_named_new_conversation_is_opened(
    env: Env, holders: dict[str, LocalAccount]
) -> None:
    mine = await env.agent_sign_in(holders[MINE], MINE)
    response = await env.client.post(
        f"/panthers/agents/{MINE}/chat",
        json={"message": "hi", "conversation_id": "my-own-id"},
        headers=mine,
    )
    assert response.status_code == 200, response.text
    assert response.json()["conversation_id"] == "my-own-id"


async def test_streamed_chat_over_sse(env: Env, holders: dict[str, LocalAccount]) -> None:
    mine = await env.agent_sign_in(holders[MINE], MINE)
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
    assert "conversation_id" not in events[0]  # only the last chunk names it


async def test_one_nfts_token_never_reaches_another_agent(
    env: Env, holders: dict[str, LocalAccount]
) -> None:
    mine = await env.agent_sign_in(holders[MINE], MINE)
    theirs = await env.agent_sign_in(holders[THEIRS], THEIRS)
    answer = (
        await env.client.post(f"/panthers/agents/{MINE}/chat", json={"message": "x"}, headers=mine)
    ).json()
    wrong_agent = await env.client.post(
        f"/panthers/agents/{THEIRS}/chat", json={"message": "x"}, headers=mine
    )
    body = assert_error(wrong_agent, 403, "FORBIDDEN", dialect="panthers")
    assert body["error"]["details"]["reason"] == "NFT_MISMATCH"
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
        assert_error(response, 404, "NOT_FOUND", dialect="panthers")
    anonymous = await env.client.post(f"/panthers/agents/{MINE}/chat", json={"message": "x"})
    assert_error(anonymous, 401, "UNAUTHORIZED", dialect="panthers")
    missing = await env.client.get(f"/panthers/agents/{MINE}/chat/history", headers=mine)
    assert_error(missing, 400, "MISSING_FIELD", dialect="panthers")


async def test_one_wallet_with_two_nfts_keeps_their_conversations_apart(
    env: Env, holders: dict[str, LocalAccount]
) -> None:
    """The same wallet (one user) signed in for two NFTs: each agent sees only its own."""
    owners = {MINE: holders[MINE].address, THEIRS: holders[MINE].address}
    assert env.platform.settings.nft_owners_file is not None
    env.platform.settings.nft_owners_file.write_text(json.dumps(owners))
    first = await env.agent_sign_in(holders[MINE], MINE)
    second = await env.agent_sign_in(holders[MINE], THEIRS)
    answer = (
        await env.client.post(f"/panthers/agents/{MINE}/chat", json={"message": "x"}, headers=first)
    ).json()
    reused = await env.client.post(
        f"/panthers/agents/{THEIRS}/chat",
        json={"message": "y", "conversation_id": answer["conversation_id"]},
        headers=second,
    )
    body = assert_error(reused, 404, "NOT_FOUND", dialect="panthers")
    assert body["error"]["details"]["reason"] == "CONVERSATION_NOT_FOUND"
