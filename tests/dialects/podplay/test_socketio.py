"""PodPlay's socket.io events (seed 000) with the python-socketio client over a real server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import socketio

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.dialects.podplay.replay import assert_like
from tests.utils.server import serve
from tests.utils.socket_events import EventClient

TOKEN = "test-master-key-0123456789abcdef"  # conftest's master key


@pytest.fixture
def database_url(tmp_path) -> str:  # the events are the point: one database is enough
    return f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}"


@pytest.fixture
async def url(settings: Settings) -> AsyncIterator[str]:
    platform = Platform.build(settings.model_copy(update={"offline_token_delay_ms": 0}))
    async with serve(create_app(platform=platform)) as base:
        yield base


Client = EventClient


async def test_connect_chat_and_typing(url: str) -> None:
    alice, bob = Client(), Client()
    await alice.sio.connect(url, auth={"token": TOKEN}, transports=["websocket"])
    await bob.sio.connect(f"{url}?token={TOKEN}", transports=["websocket"])
    try:
        connected = await alice.next("connected")
        assert connected["status"] == "success"
        assert connected["services"]["mama_bear"] is True

        await alice.sio.emit(
            "mama_bear_message",
            {
                "message": "Help me debug this React component",
                "user_id": "nathan_sanctuary",
                "session_id": "sess_12345",
                "context": {"file": "src/components/ProjectList.tsx"},
            },
        )
        answer = await alice.next("mama_bear_response")
        assert answer["success"] is True
        assert answer["session_id"] == "sess_12345"
        assert "Help me debug this React component" in answer["response"]
        assert answer["suggestions"]
        assert answer["model_used"] == "menagerie-offline"

        await bob.sio.emit("typing_indicator", {"session_id": "sess_12345", "typing": True})
        await asyncio.sleep(0.2)  # bob joins the session's room with his first indicator
        await alice.sio.emit(
            "typing_indicator",
            {"user_id": "nathan_sanctuary", "session_id": "sess_12345", "typing": True},
        )
        relayed = await bob.next("typing_indicator")
        assert relayed == {
            "user_id": "nathan_sanctuary",
            "session_id": "sess_12345",
            "typing": True,
        }

        await alice.sio.emit("mama_bear_message", {"nothing": "here"})
        refused = await alice.next("mama_bear_response")
        assert refused["error_code"] == "INVALID_INPUT"
    finally:
        await alice.sio.disconnect()
        await bob.sio.disconnect()


async def test_connections_need_a_valid_token(url: str) -> None:
    for auth in (None, {"token": "podplay_api_wrong"}):
        client = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(url, auth=auth, transports=["websocket"])


# seed 000 "WebSocket Events": `connected`, `mama_bear_message` and `mama_bear_response`
SEED_CONNECTED = {
    "status": "success",
    "message": "Connected to Podplay Sanctuary",
    "client_id": "sock_abc123",
    "timestamp": "2024-06-02T22:30:45.123Z",
    "services": {
        "mama_bear": True,
        "marketplace": True,
        "real_time_chat": True,
        "terminal_sessions": True,
    },
}
SEED_MESSAGE = {
    "message": "Help me debug this React component",
    "user_id": "nathan_sanctuary",
    "session_id": "sess_12345",
    "context": {
        "error": "Cannot read property 'map' of undefined",
        "file": "src/components/ProjectList.tsx",
    },
}
SEED_RESPONSE = {
    "success": True,
    "response": "This error typically occurs when trying to map over an undefined array...",
    "message_id": "msg_67890",
    "session_id": "sess_12345",
    "model_used": "gemini-2.0-flash",
    "timestamp": "2024-06-02T22:30:45.123Z",
    "suggestions": ["Add null check before mapping", "Initialize with empty array"],
}


async def test_seed_events_and_error_codes(url: str) -> None:
    alice = Client()
    await alice.sio.connect(url, auth={"token": TOKEN}, transports=["websocket"])
    try:
        assert_like(SEED_CONNECTED, await alice.next("connected"))
        await alice.sio.emit("mama_bear_message", SEED_MESSAGE)
        assert_like(SEED_RESPONSE, await alice.next("mama_bear_response"))

        await alice.sio.emit("mama_bear_message", {"message": "x" * 10_001})
        refused = await alice.next("mama_bear_response")
        # the seed's code, the core's reason in details (never a reason as the code)
        assert refused["success"] is False
        assert refused["error_code"] == "INVALID_INPUT"
        assert refused["details"] == {"reason": "MESSAGE_TOO_LONG"}
    finally:
        await alice.sio.disconnect()
