"""Secret Panthers' WebSockets (seed 002 "WebSocket API") with the `ws` npm package: the
orchestrator's `/ws?token=<jwt>` and each agent's `/agents/{nft}/ws`, signed in with a wallet
(SIWE) or with an admin API token; `subscribe` is acknowledged, `chat_stream` streams
`chat_chunk`s to one with `done: true`; a bad token is refused before the upgrade."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.clients.conftest import MINE, THEIRS, Live
from tests.clients.node import run_node
from tests.contract import seeds
from tests.dialects.panthers.conftest import Env

pytestmark = pytest.mark.asyncio(loop_scope="module")
SEED_CODES = seeds.error_codes("002", "Error Codes")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def jwt(live: Live) -> AsyncIterator[str]:
    """An access token from the seed's wallet sign-in, for the holder of NFT `MINE`."""
    async with httpx.AsyncClient(base_url=live.url, timeout=10) as client:
        signed_in = await Env(client, live.url, live.platform).sign_in(live.holders[MINE], MINE)
    yield str(signed_in["access_token"])


async def talk(live: Live, path: str, token: str, *messages: Any) -> Any:
    return await run_node(
        "panthers_ws.mjs", f"{live.ws_url}/panthers{path}?token={token}", json.dumps(messages)
    )


def chat_stream(message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "chat_stream", "message": message, **extra}


SUBSCRIBE = {"type": "subscribe", "channel": "deployment", "nft_token_id": MINE}


def assert_streamed(exchange: dict[str, Any], said: str) -> dict[str, Any]:
    """`chat_chunk`s with `done: false`, then one with `done: true`; returns the last."""
    received = exchange["received"]
    assert {event["type"] for event in received} == {"chat_chunk"}, received
    *chunks, last = received
    assert len(chunks) > 2
    assert all(chunk["done"] is False for chunk in chunks)
    assert all(isinstance(chunk["content"], str) for chunk in chunks)
    assert said in "".join(chunk["content"] for chunk in chunks)
    assert last["done"] is True
    assert last["conversation_id"]
    return last


def assert_subscribed(exchange: dict[str, Any]) -> None:
    [ack] = exchange["received"]
    assert ack["type"] == "subscribed"
    assert ack["channel"] == "deployment"
    assert ack["nft_token_id"] == MINE
    assert ack["message"]


async def test_the_orchestrator_socket_with_a_wallet_jwt(live: Live, jwt: str) -> None:
    seen = await talk(live, "/ws", jwt, SUBSCRIBE, chat_stream("hi from ws"))
    assert seen["opened"] is True
    subscribed, streamed = seen["exchanges"]
    assert_subscribed(subscribed)
    conversation = assert_streamed(streamed, "hi from ws")["conversation_id"]
    # the seed's example names the conversation to continue
    again = await talk(live, "/ws", jwt, chat_stream("and again", conversation_id=conversation))
    assert assert_streamed(again["exchanges"][0], "and again")["conversation_id"] == conversation
    assert seen["close"]["code"] == 1000


async def test_the_agent_socket_with_a_wallet_jwt(live: Live, jwt: str) -> None:
    seen = await talk(live, f"/agents/{MINE}/ws", jwt, chat_stream("agent socket"), SUBSCRIBE)
    streamed, subscribed = seen["exchanges"]
    assert_streamed(streamed, "agent socket")
    assert_subscribed(subscribed)
    assert seen["close"]["code"] == 1000


async def test_an_admin_api_token_is_accepted(live: Live) -> None:
    """An admin credential may use any NFT's agent; on `/ws` it names the NFT."""
    seen = await talk(live, "/ws", live.token, SUBSCRIBE, chat_stream("admin", nft_token_id=MINE))
    assert_subscribed(seen["exchanges"][0])
    assert_streamed(seen["exchanges"][1], "admin")
    seen = await talk(live, f"/agents/{THEIRS}/ws", live.token, chat_stream("admin agent"))
    assert_streamed(seen["exchanges"][0], "admin agent")


@pytest.mark.parametrize("path", ["/ws", f"/agents/{MINE}/ws"])
@pytest.mark.parametrize("token", ["not-a-token", ""], ids=["bad", "missing"])
async def test_a_bad_token_is_refused_with_a_reason(live: Live, path: str, token: str) -> None:
    """The upgrade is answered with HTTP 401 and the seed's error envelope, which `ws` hands
    to its `unexpected-response` listener; the socket never opens."""
    seen = await talk(live, path, token, chat_stream("never sent"))
    assert seen["opened"] is False, seen
    refusal = seen["refusal"]
    assert refusal["status"] == 401
    assert refusal["content_type"].startswith("application/json")
    error = refusal["body"]["error"]
    assert error["code"] == "UNAUTHORIZED"
    assert error["code"] in SEED_CODES
    assert error["message"]


async def test_another_holders_agent_socket_is_forbidden(live: Live, jwt: str) -> None:
    seen = await talk(live, f"/agents/{THEIRS}/ws", jwt, chat_stream("not mine"))
    assert seen["opened"] is False, seen
    assert seen["refusal"]["status"] == 403
    assert seen["refusal"]["body"]["error"]["code"] == "FORBIDDEN"
