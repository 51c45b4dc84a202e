"""Server-Sent Events read as a browser reads them (`fetch`, the body's reader, TextDecoder,
events split on blank lines): PodPlay's streamed Mama Bear chat (seed 000) and MADACE's
`POST /api/v3/chat/stream` (seed 001), as the seeds' own JavaScript examples read them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.clients.conftest import Live
from tests.clients.node import run_node

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def flow(live: Live, name: str) -> Any:
    return await run_node(
        "sse.mjs", name, env={"MENAGERIE_URL": live.url, "MENAGERIE_TOKEN": live.token}
    )


def assert_event_stream(stream: dict[str, Any]) -> list[dict[str, Any]]:
    """A 200 `text/event-stream` of unnamed `data:` events ending in `data: [DONE]`, every
    event terminated by a blank line; returns the JSON events before `[DONE]`."""
    assert stream["status"] == 200, stream
    assert stream["content_type"].split(";")[0].strip() == "text/event-stream"
    assert stream["cache_control"] == "no-cache"
    assert stream["trailing"] == "", "an event without its terminating blank line"
    events = stream["events"]
    assert events[-1]["data"] == "[DONE]"
    assert [e for e in events if e["data"] == "[DONE]"] == [events[-1]]
    for event in events:
        assert event["event"] is None  # `data:` only: the default `message` event
        assert event["data"] is not None
    decoded = [e["json"] for e in events[:-1]]
    assert all(isinstance(e, dict) and "type" in e for e in decoded), decoded
    return decoded


async def test_podplay_mama_bear_stream(live: Live) -> None:
    """`chunk`s, then `complete` (the non-streamed answer's fields), then `[DONE]`."""
    seen = await flow(live, "podplay")
    events = assert_event_stream(seen["stream"])
    *chunks, complete = events
    assert len(chunks) > 2
    assert {e["type"] for e in chunks} == {"chunk"}
    assert complete["type"] == "complete"
    assert complete["success"] is True
    streamed = "".join(e["content"] for e in chunks)
    assert "Help me build a React component, streamed to fetch" in streamed
    assert complete["response"] == streamed
    assert complete["model_used"] == "menagerie-offline"
    assert complete["tokens_used"] > 0
    assert {"session_id", "message_id", "cost", "timestamp", "metadata"} <= set(complete)
    # the streamed answer is the one stored
    history = seen["history"]
    assert history["status"] == 200
    [stored] = history["body"]["messages"]
    assert stored["message_id"] == complete["message_id"]
    assert stored["ai_response"] == complete["response"]


async def test_madace_chat_stream(live: Live) -> None:
    """The seed's flow: create a session, post the user's message, stream the answer, read
    the history; an unknown session is a JSON 404, not a stream."""
    seen = await flow(live, "madace")
    assert seen["created"]["status"] == 201
    assert seen["posted"]["status"] == 201
    events = assert_event_stream(seen["stream"])
    assert len(events) > 2
    assert {e["type"] for e in events} <= {"chunk", "memory", "tool_call", "tool_result"}
    chunks = [e["content"] for e in events if e["type"] == "chunk"]
    assert len(chunks) > 2
    streamed = "".join(chunks)
    assert "Tell me about MADACE methodology, streamed to fetch" in streamed
    messages = seen["messages"]["body"]["messages"]
    assert [m["role"] for m in messages] == ["user", "agent"]
    assert messages[1]["content"] == streamed
    unknown = seen["unknown_session"]
    assert unknown["status"] == 404
    assert unknown["content_type"].startswith("application/json")
    assert json.loads(unknown["error_body"])["error"] == "SESSION_NOT_FOUND"


async def test_gary_event_stream_resumes_from_the_start(live: Live) -> None:
    """Crazy Gary's endless event stream, read by `fetch` with `Last-Event-ID: 0`: the kept
    events of the tenant, numbered, in the seed's `{"event", "data"}` shape."""
    tenant = live.platform.settings.default_tenant
    for task in ("js_task_1", "js_task_2"):
        await live.platform.events.publish(
            "task.created", {"tenant_id": tenant, "task_id": task, "user_id": "1"}
        )
    await live.platform.events.publish("task.created", {"tenant_id": "acme", "task_id": "x"})
    seen = (await flow(live, "gary"))["stream"]
    assert seen["status"] == 200, seen
    assert seen["content_type"].split(";")[0] == "text/event-stream"
    ours = [e for e in seen["events"] if e["json"] and "js_task" in json.dumps(e["json"])]
    assert [e["json"] for e in ours] == [
        {"event": "task_created", "data": {"task_id": t, "user_id": "1"}}
        for t in ("js_task_1", "js_task_2")
    ]
    ids = [int(e["id"]) for e in ours]
    assert ids == sorted(ids)
    assert all(e["json"]["data"].get("task_id") != "x" for e in seen["events"] if e["json"])
