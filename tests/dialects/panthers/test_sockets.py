"""Panthers WebSockets with a real client: the orchestrator's `/ws?token=` the seed documents
(`subscribe` and `chat_stream`), each agent's own `/agents/{nft}/ws`, and errors in the
envelope's codes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from eth_account.signers.local import LocalAccount
from websockets.asyncio.client import ClientConnection

from menagerie.dialects.panthers.socket import DEPLOYMENT_TOPIC
from tests.contract import seeds
from tests.dialects.panthers.conftest import MINE, THEIRS, Env

SEED_CODES = seeds.error_codes("002", "Error Codes")


async def receive(socket: ClientConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(socket.recv(), timeout=10))


async def stream_answer(socket: ClientConnection) -> list[dict[str, Any]]:
    chunks = []
    while True:
        event = await receive(socket)
        assert event["type"] == "chat_chunk", event
        chunks.append(event)
        if event["done"]:
            return chunks


def token_of(signed_in: dict[str, Any]) -> str:
    return str(signed_in["access_token"])


def assert_socket_error(event: dict[str, Any], code: str) -> dict[str, Any]:
    assert event["type"] == "error", event
    assert event["error"]["code"] == code, event
    assert code in SEED_CODES
    assert event["error"]["message"]
    assert isinstance(event["error"]["details"], dict)
    return event["error"]["details"]


async def test_the_orchestrator_socket_streams_chat(
    env: Env, holders: dict[str, LocalAccount]
) -> None:
    """Fault: the seed's `/ws?token=` did not exist; only the agent's socket did."""
    token = token_of(await env.sign_in(holders[MINE], MINE))
    async with websockets.connect(env.ws("/ws", token)) as socket:
        # the NFT defaults to the one the session signed in for
        await socket.send(json.dumps({"type": "chat_stream", "message": "hi over the socket"}))
        chunks = await stream_answer(socket)
        assert len(chunks) > 2
        conversation = chunks[-1]["conversation_id"]
        # the seed's example, with the message to answer
        await socket.send(
            json.dumps({"type": "chat_stream", "conversation_id": conversation, "message": "again"})
        )
        assert (await stream_answer(socket))[-1]["conversation_id"] == conversation
        # another NFT's agent is not this session's
        await socket.send(
            json.dumps({"type": "chat_stream", "message": "x", "nft_token_id": THEIRS})
        )
        details = assert_socket_error(await receive(socket), "FORBIDDEN")
        assert details["reason"] == "NFT_MISMATCH"


async def test_subscribe_is_acknowledged_and_forwards_deployment_updates(
    env: Env, holders: dict[str, LocalAccount]
) -> None:
    token = token_of(await env.sign_in(holders[MINE], MINE))
    async with websockets.connect(env.ws("/ws", token)) as socket:
        await socket.send(
            json.dumps({"type": "subscribe", "channel": "deployment", "nft_token_id": MINE})
        )
        ack = await receive(socket)
        assert ack["type"] == "subscribed"
        assert ack["nft_token_id"] == MINE
        assert "deployment_status" in ack["message"]
        # what the deployments domain publishes reaches the subscriber, shaped as the seed's
        # `deployment_status`; another tenant's, and another NFT's, do not
        base = {"deployment_id": "dep_1", "status": "deploying", "progress": 50, "message": "m"}
        tenant = env.platform.settings.default_tenant
        await env.platform.events.publish(
            DEPLOYMENT_TOPIC, {**base, "tenant_id": "other", "nft_token_id": MINE}
        )
        await env.platform.events.publish(
            DEPLOYMENT_TOPIC, {**base, "tenant_id": tenant, "nft_token_id": THEIRS}
        )
        await env.platform.events.publish(
            DEPLOYMENT_TOPIC, {**base, "tenant_id": tenant, "nft_token_id": MINE, "progress": 60}
        )
        update = await receive(socket)
        assert update == {**base, "type": "deployment_status", "progress": 60}
        # another holder's NFT cannot be watched
        await socket.send(
            json.dumps({"type": "subscribe", "channel": "deployment", "nft_token_id": THEIRS})
        )
        assert_socket_error(await receive(socket), "FORBIDDEN")


@pytest.mark.parametrize(
    ("message", "code", "field"),
    [
        ({"type": "subscribe"}, "MISSING_FIELD", "channel"),
        ({"type": "subscribe", "channel": "billing", "nft_token_id": MINE}, "INVALID_FIELD", None),
        ({"type": "chat_stream"}, "MISSING_FIELD", "message"),
        ({"type": "dance"}, "INVALID_REQUEST", "type"),
        ("not json", "INVALID_REQUEST", None),
    ],
)
async def test_socket_errors_are_the_seeds_codes(
    env: Env, holders: dict[str, LocalAccount], message: Any, code: str, field: str | None
) -> None:
    token = token_of(await env.sign_in(holders[MINE], MINE))
    async with websockets.connect(env.ws("/ws", token)) as socket:
        await socket.send(message if isinstance(message, str) else json.dumps(message))
        details = assert_socket_error(await receive(socket), code)
        if field is not None:
            assert details["field"] == field
        assert details["request_id"]


async def test_a_core_reason_never_travels_as_a_code(
    env: Env, holders: dict[str, LocalAccount]
) -> None:
    """Fault: socket errors sent core reasons (`INVALID_INPUT`, `SESSION_NOT_FOUND`) as codes.
    A conversation id another user holds is refused in the seed's codes."""
    mine = await env.agent_sign_in(holders[MINE], MINE)
    taken = (
        await env.client.post(f"/panthers/agents/{MINE}/chat", json={"message": "x"}, headers=mine)
    ).json()["conversation_id"]
    token = token_of(await env.sign_in(holders[THEIRS], THEIRS))
    async with websockets.connect(env.ws(f"/agents/{THEIRS}/ws", token)) as socket:
        await socket.send(
            json.dumps({"type": "chat_stream", "message": "x", "conversation_id": taken})
        )
        event = await receive(socket)
        assert event["type"] == "error"
        assert event["error"]["code"] in SEED_CODES, event


async def test_the_agent_socket_is_for_its_nft_only(
    env: Env, holders: dict[str, LocalAccount]
) -> None:
    token = token_of(await env.sign_in(holders[MINE], MINE))
    async with websockets.connect(env.ws(f"/agents/{MINE}/ws", token)) as socket:
        await socket.send(json.dumps({"type": "chat_stream", "message": "hi"}))
        assert len(await stream_answer(socket)) > 2
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(env.ws(f"/agents/{THEIRS}/ws", token)):
            pass
    assert refused.value.response.status_code == 403
    body = json.loads(refused.value.response.body)
    assert body["error"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize("path", ["/ws", f"/agents/{MINE}/ws"])
async def test_a_bad_token_is_refused_in_the_envelope(env: Env, path: str) -> None:
    for token in ("not-a-token", ""):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(env.ws(path, token)):
                pass
        assert refused.value.response.status_code == 401
        body = json.loads(refused.value.response.body)
        assert body["error"]["code"] == "UNAUTHORIZED"
