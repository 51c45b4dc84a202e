"""The official socket.io client (`socket.io-client`) at the URLs the README gives: PodPlay's
own example at the root, at `/podplay` (namespace) and at `/podplay/socket.io` (path), over
long-polling with the upgrade and over WebSocket only; `typing_indicator` between two
clients; Crazy Gary's documented `<base>/socket.io/?token=` and `auth.token`; refusals that
say why."""

from __future__ import annotations

from typing import Any

import pytest

from tests.clients.conftest import Live
from tests.clients.node import run_node

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def scenario(live: Live, name: str) -> Any:
    return await run_node(
        "socketio_client.mjs", name, env={"MENAGERIE_URL": live.url, "MENAGERIE_TOKEN": live.token}
    )


async def test_podplay_example_at_every_url_and_transport(live: Live) -> None:
    seen = (await scenario(live, "podplay"))["seen"]
    assert [(row["where"], row["transports"]) for row in seen] == [
        (where, transports)
        for where in ("root", "namespace", "path")
        for transports in ("default", ["websocket"])
    ]
    for row in seen:
        assert row["connected"] is True, row
        greeting = row["greeting"]
        assert (greeting["status"], greeting["message"]) == (
            "success",
            "Connected to Podplay Sanctuary",
        )
        assert greeting["client_id"]
        answer = row["answer"]
        assert answer["success"] is True, answer
        assert f"Help me build a React component ({row['where']})" in answer["response"]
        assert answer["session_id"] == f"js-{row['where']}"
        assert answer["suggestions"]
        # long-polling first, then the upgrade: both end on a WebSocket
        assert row["transport"] == "websocket", row


async def test_typing_indicator_between_two_clients(live: Live) -> None:
    seen = await scenario(live, "typing")
    assert [o["connected"] for o in seen["outcomes"]] == [True, True]
    assert seen["relayed"] == {"user_id": "alice", "session_id": "js-typing", "typing": True}
    assert seen["echoed"] is False  # the sender does not hear its own indicator


async def test_gary_connects_at_its_documented_url(live: Live) -> None:
    seen = (await scenario(live, "gary"))["seen"]
    assert [row["how"] for row in seen] == [
        "path+query",
        "path+auth",
        "namespace+auth",
        "namespace+query",
    ]
    for row in seen:
        assert row["connected"] is True, row
        assert row["heard"] == [], row  # no PodPlay greeting, no PodPlay answer


async def test_refusals_say_why(live: Live) -> None:
    seen = {row["what"]: row for row in (await scenario(live, "refused"))["seen"]}
    for row in seen.values():
        assert row["connected"] is False, row
        assert row["message"], row  # never the empty connect_error the issue found
    assert "authentication required" in seen["no token"]["message"]
    assert seen["no token"]["data"]["error_code"] == "AUTHENTICATION_REQUIRED"
    assert seen["bad token"]["data"]["error_code"] == "AUTHENTICATION_REQUIRED"
    assert seen["bad gary token"]["data"]["code"] == "AUTH_REQUIRED"
    unknown = seen["unknown namespace"]
    assert "unknown namespace /nowhere" in unknown["message"]
    assert unknown["data"]["reason"] == "UNKNOWN_NAMESPACE"
