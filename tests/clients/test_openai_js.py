"""The official `openai` npm client on Menagerie's `/v1`, only `baseURL` changed: models,
completions, streaming with usage, tool calls (the SDK's own tool runner included), the
`agent:<name>` models, and errors as the SDK's typed exceptions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.clients.conftest import Live
from tests.clients.node import run_node

pytestmark = pytest.mark.asyncio(loop_scope="module")
MODEL = "menagerie-offline"


async def scenario(live: Live, name: str) -> Any:
    return await run_node(
        "openai_client.mjs", name, env={"MENAGERIE_URL": live.url, "MENAGERIE_TOKEN": live.token}
    )


def assert_usage(usage: dict[str, int] | None) -> None:
    assert usage is not None
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def contents(chunks: list[dict[str, Any]]) -> list[str]:
    return [c["content"] for chunk in chunks for c in chunk["choices"] if c["content"]]


def finish_reasons(chunks: list[dict[str, Any]]) -> list[str]:
    return [c["finish_reason"] for chunk in chunks for c in chunk["choices"] if c["finish_reason"]]


def assert_stream_with_usage(chunks: list[dict[str, Any]], model: str) -> None:
    """What `stream_options.include_usage` promises: one completion id throughout, the role
    first, content deltas, one finish reason, then a last chunk with the usage and no
    choices; no usage before it."""
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert {c["model"] for c in chunks} == {model}
    assert chunks[0]["choices"][0]["role"] == "assistant"
    assert len(contents(chunks)) > 5
    assert finish_reasons(chunks) == ["stop"]
    last = chunks[-1]
    assert last["choices"] == []
    assert_usage(last["usage"])
    assert all(c["usage"] is None for c in chunks[:-1])


async def test_models_list(live: Live) -> None:
    seen = await scenario(live, "models")
    assert MODEL in seen["ids"]
    assert "agent:mama-bear" in seen["ids"]
    assert seen["owners"][MODEL] == "offline"
    assert seen["retrieved"] == {"id": MODEL, "object": "model"}


async def test_completion(live: Live) -> None:
    seen = await scenario(live, "completion")
    assert seen["object"] == "chat.completion"
    assert seen["id"].startswith("chatcmpl-")
    assert seen["model"] == MODEL
    assert seen["choices"] == 1
    assert seen["finish_reason"] == "stop"
    assert seen["role"] == "assistant"
    assert isinstance(seen["content"], str)
    assert "Say hi to Menagerie from JavaScript" in seen["content"]
    assert seen["tool_calls"] is None
    assert_usage(seen["usage"])
    assert seen["content_type"].startswith("application/json")


async def test_streaming_with_usage(live: Live) -> None:
    chunks = (await scenario(live, "stream"))["chunks"]
    assert_stream_with_usage(chunks, MODEL)
    assert "stream this to the JavaScript client please" in "".join(contents(chunks))


async def test_the_sdks_stream_helper_assembles_the_answer(live: Live) -> None:
    seen = await scenario(live, "stream_helper")
    final = seen["final"]
    assert len(seen["deltas"]) > 5
    assert "".join(seen["deltas"]) == final["content"]
    assert "assemble this" in final["content"]
    assert final["finish_reason"] == "stop"
    assert_usage(final["usage"])


async def test_tool_call_round(live: Live) -> None:
    """The offline model calls an offered tool when the user's message scripts it with
    `/tool <name> <json>`, and after the tool's result it reports what the tool returned."""
    seen = await scenario(live, "tools")
    first = seen["first"]
    assert first["finish_reason"] == "tool_calls"
    assert first["content"] is None
    [call] = first["tool_calls"]
    assert call["type"] == "function"
    assert call["id"]
    assert call["function"]["name"] == "get_time"
    assert json.loads(call["function"]["arguments"]) == {"tz": "UTC"}
    assert_usage(first["usage"])
    # the SDK's own message object sent back, then the tool's result
    second = seen["second"]
    assert second["finish_reason"] == "stop"
    assert second["content"] == "[offline model] the tool returned: 12:00"
    # a history with an assistant tool_calls message and a tool message, written by hand
    assert seen["replayed"]["finish_reason"] == "stop"
    assert seen["replayed"]["content"] == "[offline model] the tool returned: 13:37"
    # streamed: the call arrives as a delta, then finish_reason tool_calls
    streamed = seen["streamed"]
    calls = [t for chunk in streamed for c in chunk["choices"] for t in c["tool_calls"] or []]
    assert len(calls) == 1
    assert calls[0]["index"] == 0
    assert calls[0]["function"] == {"name": "get_time", "arguments": "{}"}
    assert finish_reasons(streamed) == ["tool_calls"]


async def test_the_sdks_tool_runner(live: Live) -> None:
    """`chat.completions.runTools`: the SDK parses the call, runs the function, sends its
    result and stops at the model's answer."""
    seen = await scenario(live, "run_tools")
    assert seen["seen"] == [{"tz": "Europe/Paris"}]
    assert seen["content"] == "[offline model] the tool returned: noon in Europe/Paris"
    assert seen["messages"] == 4  # user, assistant tool call, tool result, assistant answer


async def test_errors_are_the_sdks_typed_exceptions(live: Live) -> None:
    seen = await scenario(live, "errors")
    for case in ("unknown_model", "unknown_retrieve", "unknown_agent"):
        error = seen[case]
        assert error["class"] == "NotFoundError", (case, error)
        assert error["is_not_found"] is True
        assert error["status"] == 404
        assert error["code"] == "model_not_found", (case, error)
        assert error["type"] == "invalid_request_error"
        assert error["request_id"], "the SDK reads x-request-id"
    for case in ("bad_key_models", "bad_key_chat"):
        error = seen[case]
        assert error["class"] == "AuthenticationError", (case, error)
        assert error["is_authentication"] is True
        assert error["status"] == 401
        assert error["code"] == "invalid_api_key"


async def test_an_agent_is_a_model(live: Live) -> None:
    seen = await scenario(live, "agent")
    completion = seen["completion"]
    assert completion["model"] == "agent:mama-bear"
    assert completion["finish_reason"] == "stop"
    assert "Hello Mama Bear, from the JavaScript client" in completion["content"]
    assert_usage(completion["usage"])
    assert_stream_with_usage(seen["streamed"], "agent:mama-bear")
    assert "Stream to me, Mama Bear" in "".join(contents(seen["streamed"]))
