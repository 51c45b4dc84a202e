"""The OpenAI-compatible surface, driven by the official `openai` client over real HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import openai
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.server import serve

TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The current time in a time zone",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}},
    },
}


@pytest.fixture
async def sdk(settings: Settings) -> AsyncIterator[openai.AsyncOpenAI]:
    platform = Platform.build(settings.model_copy(update={"offline_token_delay_ms": 0}))
    async with serve(create_app(platform=platform)) as url:
        key = settings.master_key.get_secret_value()
        async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0) as client:
            yield client


async def test_models_lists_callable_models(sdk: openai.AsyncOpenAI) -> None:
    models = [m async for m in sdk.models.list()]
    ids = [m.id for m in models]
    assert ids[0] == "menagerie-offline"
    assert {"agent:mama-bear", "agent:chat-assistant-001", "agent:pm"} <= set(ids)
    assert [i for i in ids if not i.startswith("agent:")] == ["menagerie-offline"]
    assert models[0].owned_by == "offline"
    assert (await sdk.models.retrieve("agent:pm")).owned_by == "menagerie"
    assert (await sdk.models.retrieve("menagerie-offline")).id == "menagerie-offline"
    with pytest.raises(openai.NotFoundError):
        await sdk.models.retrieve("gpt-4o")


async def test_completion_with_usage(sdk: openai.AsyncOpenAI) -> None:
    done = await sdk.chat.completions.create(
        model="menagerie-offline",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Say hi to Menagerie"},
        ],
    )
    assert done.object == "chat.completion"
    assert done.model == "menagerie-offline"
    choice = done.choices[0]
    assert choice.finish_reason == "stop"
    assert "Say hi to Menagerie" in (choice.message.content or "")
    assert done.usage is not None
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens > 0


async def test_streaming_arrives_in_chunks_with_usage(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.chat.completions.create(
        model="menagerie-offline",
        messages=[{"role": "user", "content": "stream this please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, reasons, usage = [], [], None
    async for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                reasons.append(choice.finish_reason)
    assert len(pieces) > 5
    assert "stream this please" in "".join(pieces)
    assert reasons == ["stop"]
    assert usage is not None
    assert usage.completion_tokens > 0


async def test_tool_call_round_trip(sdk: openai.AsyncOpenAI) -> None:
    messages: list[dict[str, object]] = [
        {"role": "user", "content": '/tool get_time {"tz": "UTC"}'}
    ]
    first = await sdk.chat.completions.create(
        model="menagerie-offline", messages=messages, tools=[TIME_TOOL]
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls or []
    assert call.function.name == "get_time"
    assert json.loads(call.function.arguments) == {"tz": "UTC"}
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "12:00"})
    second = await sdk.chat.completions.create(
        model="menagerie-offline", messages=messages, tools=[TIME_TOOL]
    )
    assert second.choices[0].message.content == "[offline model] the tool returned: 12:00"


async def test_streamed_tool_call(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.chat.completions.create(
        model="menagerie-offline",
        messages=[{"role": "user", "content": "/tool get_time {}"}],
        tools=[TIME_TOOL],
        stream=True,
    )
    calls = [
        call
        async for chunk in stream
        for choice in chunk.choices
        for call in choice.delta.tool_calls or []
    ]
    assert [c.function.name for c in calls if c.function] == ["get_time"]


async def test_errors_in_openai_shape(sdk: openai.AsyncOpenAI, settings: Settings) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        await sdk.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "x"}]
        )
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as invalid:
        await sdk.chat.completions.create(model="menagerie-offline", messages=[])
    assert invalid.value.body["param"] == "messages"  # type: ignore[index]
    wrong = openai.AsyncOpenAI(base_url=str(sdk.base_url), api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as denied:
        await wrong.models.list()
    assert denied.value.code == "invalid_api_key"
    await wrong.close()


async def test_an_agent_model_runs_the_agent_loop(sdk: openai.AsyncOpenAI) -> None:
    first = await sdk.chat.completions.with_raw_response.create(
        model="agent:chat-assistant-001",
        messages=[{"role": "user", "content": "Hi, my name is Grace."}],
    )
    session_id = first.headers["x-menagerie-session-id"]
    answer = first.parse()
    assert answer.model == "agent:chat-assistant-001"
    assert "my name is Grace" in (answer.choices[0].message.content or "")
    assert answer.usage is not None
    assert answer.usage.prompt_tokens > 0

    # the same session, streamed; the agent recalls the memory it extracted
    stream = await sdk.chat.completions.create(
        model="agent:chat-assistant-001",
        messages=[{"role": "user", "content": "What is my name?"}],
        metadata={"session_id": session_id},
        stream=True,
        stream_options={"include_usage": True},
    )
    texts, finish, usage = [], None, None
    async for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            texts.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert len([t for t in texts if t]) > 1
    assert finish == "stop"
    assert usage is not None
    assert usage.prompt_tokens > answer.usage.prompt_tokens  # history and memory came along


async def test_an_unknown_agent_is_not_found(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        await sdk.chat.completions.create(
            model="agent:nobody", messages=[{"role": "user", "content": "hi"}]
        )
    with pytest.raises(openai.BadRequestError):
        await sdk.chat.completions.create(
            model="agent:pm", messages=[{"role": "system", "content": "no user message"}]
        )
