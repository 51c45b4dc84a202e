"""The Anthropic adapter against the fake upstream on loopback: real HTTP, real SDK."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from menagerie.core.llm.errors import (
    ProviderAuthFailed,
    ProviderError,
    ProviderQuotaExhausted,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from menagerie.core.llm.models import (
    ChatMessage,
    ChatRequest,
    Finish,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    ToolSpec,
    Usage,
)
from menagerie.core.llm.providers.base import Provider, ProviderConfig
from menagerie.core.llm.providers.factory import build_provider
from tests.utils.fake_llm import (
    DEFAULT_KEY,
    Behaviour,
    FakeLLM,
    FakeToolCall,
    cut,
    error,
    garbled,
    invalid_key,
    overloaded,
    quota_exhausted,
    rate_limited,
    reply,
    server_error,
    slow,
    stream_error,
    tool_call,
    tool_calls,
)
from tests.utils.http import closed_port

MODEL = "claude-haiku-4-5"
WEATHER = ToolSpec(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
HELLO = ChatRequest(MODEL, (ChatMessage("user", "hello there"),))


@pytest.fixture
async def fake() -> AsyncIterator[FakeLLM]:
    async with FakeLLM(api_key=DEFAULT_KEY) as server:
        yield server


def make(base_url: str, *, key: str = DEFAULT_KEY, timeout_s: float = 5.0) -> Provider:
    return build_provider(
        ProviderConfig("anthropic", "anthropic", SecretStr(key), base_url, timeout_s)
    )


@pytest.fixture
async def provider(fake: FakeLLM) -> AsyncIterator[Provider]:
    adapter = make(fake.anthropic_base_url)
    yield adapter
    await adapter.aclose()


async def collect(provider: Provider, request: ChatRequest = HELLO) -> list[StreamEvent]:
    return [event async for event in provider.stream(request)]


async def drain(provider: Provider, into: list[StreamEvent]) -> None:
    """Read a stream that is expected to fail, keeping what arrived before it did."""
    async for event in provider.stream(HELLO):
        into.append(event)


async def test_streamed_text_arrives_in_several_deltas(provider: Provider, fake: FakeLLM) -> None:
    fake.push(reply("The quick brown fox jumps over the lazy dog"))
    events = await collect(provider)
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) >= 5
    assert "".join(deltas) == "The quick brown fox jumps over the lazy dog"
    assert isinstance(events[-2], Usage)
    assert events[-1] == Finish("stop")
    sent = fake.last_request
    assert sent.path == "/v1/messages"
    assert DEFAULT_KEY in (sent.headers.get("x-api-key"), sent.headers.get("authorization", "")[7:])
    assert "anthropic-version" in sent.headers
    assert sent.body["model"] == MODEL
    assert sent.body["stream"] is True
    assert sent.body["max_tokens"] == 4096  # required by the API: our default when unset
    assert sent.body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hello there"}]}
    ]


async def test_a_fragmented_tool_call_arrives_whole(provider: Provider, fake: FakeLLM) -> None:
    arguments = {"city": "Paris", "units": "metric", "days": [1, 2, 3]}
    fake.push(tool_call("get_weather", arguments, text="Let me check.", id="toolu_01abc"))
    request = ChatRequest(
        MODEL, (ChatMessage("user", "weather?"),), tools=(WEATHER,), tool_choice="required"
    )
    events = await collect(provider, request)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Let me check."
    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert calls == [ToolCall("toolu_01abc", "get_weather", json.dumps(arguments))]
    assert calls[0].parsed_arguments() == arguments
    assert events[-1] == Finish("tool_calls")
    sent = fake.last_request.body
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather for a city",
            "input_schema": WEATHER.parameters,
        }
    ]
    assert sent["tool_choice"] == {"type": "any"}


async def test_parallel_tool_calls_each_arrive_whole(provider: Provider, fake: FakeLLM) -> None:
    fake.push(
        tool_calls(
            FakeToolCall("get_weather", {"city": "Paris"}),
            FakeToolCall("get_weather", {"city": "Oslo"}),
        )
    )
    events = await collect(provider, ChatRequest(MODEL, HELLO.messages, tools=(WEATHER,)))
    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert [c.parsed_arguments()["city"] for c in calls] == ["Paris", "Oslo"]
    assert all(c.id.startswith("toolu_") for c in calls)


async def test_tool_results_go_back_in_anthropic_format(provider: Provider, fake: FakeLLM) -> None:
    first = ToolCall("toolu_1", "get_weather", '{"city": "Paris"}')
    second = ToolCall("toolu_2", "get_weather", '{"city": "Oslo"}')
    request = ChatRequest(
        MODEL,
        (
            ChatMessage("system", "You are terse."),
            ChatMessage("system", "Answer in English."),
            ChatMessage("user", "weather in Paris and Oslo?"),
            ChatMessage("assistant", "Checking both.", tool_calls=(first, second)),
            ChatMessage("tool", '{"temp_c": 21}', tool_call_id="toolu_1", name="get_weather"),
            ChatMessage("tool", '{"temp_c": 9}', tool_call_id="toolu_2", name="get_weather"),
        ),
        tools=(WEATHER,),
    )
    fake.push(reply("21 and 9 degrees."))
    await collect(provider, request)
    body = fake.last_request.body
    assert body["system"] == "You are terse.\n\nAnswer in English."
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "weather in Paris and Oslo?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking both."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_2",
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                },
            ],
        },
        {
            "role": "user",  # both results in one turn, right after the calls
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": '{"temp_c": 21}'},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": '{"temp_c": 9}'},
            ],
        },
    ]


async def test_usage_numbers_come_from_start_and_delta(provider: Provider, fake: FakeLLM) -> None:
    fake.push(reply("counted", usage=(123, 45)))
    events = await collect(provider)
    assert Usage(123, 45) in events


async def test_generation_settings_are_sent(provider: Provider, fake: FakeLLM) -> None:
    await collect(provider, ChatRequest(MODEL, HELLO.messages, temperature=0.2, max_tokens=64))
    body = fake.last_request.body
    assert body["max_tokens"] == 64
    assert "temperature" not in body  # the Messages API no longer takes sampling parameters
    assert "system" not in body
    assert "tools" not in body


async def test_a_truncated_answer_finishes_with_length(provider: Provider, fake: FakeLLM) -> None:
    fake.push(Behaviour(text="cut short by max tokens", finish="length"))
    events = await collect(provider)
    assert events[-1] == Finish("length")


async def test_complete_gathers_the_whole_answer(provider: Provider, fake: FakeLLM) -> None:
    fake.push(reply("All of it, at once.", usage=(9, 6)))
    done = await provider.complete(HELLO)
    assert (done.text, done.provider, done.model) == ("All of it, at once.", "anthropic", MODEL)
    assert (done.usage.input_tokens, done.usage.output_tokens) == (9, 6)
    assert done.finish_reason == "stop"


@pytest.mark.parametrize(
    ("behaviour", "kind", "code"),
    [
        (rate_limited(2), ProviderRateLimited, "PROVIDER_RATE_LIMITED"),
        (quota_exhausted(), ProviderQuotaExhausted, "INSUFFICIENT_QUOTA"),
        (error(402), ProviderQuotaExhausted, "INSUFFICIENT_QUOTA"),
        (invalid_key(), ProviderAuthFailed, "INVALID_API_KEY"),
        (error(403), ProviderAuthFailed, "INVALID_API_KEY"),
        (server_error(500), ProviderUnavailable, "PROVIDER_UNAVAILABLE"),
        (overloaded(), ProviderUnavailable, "PROVIDER_UNAVAILABLE"),
        (error(404), ProviderRejected, "PROVIDER_REJECTED"),
        (error(400, message="messages: roles must alternate"), ProviderRejected, None),
    ],
)
async def test_upstream_errors_are_classified(
    provider: Provider,
    fake: FakeLLM,
    behaviour: Behaviour,
    kind: type[ProviderError],
    code: str | None,
) -> None:
    fake.push(behaviour)
    with pytest.raises(kind) as caught:
        await provider.complete(HELLO)
    if code is not None:
        assert caught.value.reason == code
    assert caught.value.provider == "anthropic"
    assert caught.value.retryable is (kind in (ProviderRateLimited, ProviderUnavailable))
    assert len(fake.requests) == 1  # the SDK does not retry behind the router's back


async def test_overloaded_is_529_and_retryable(provider: Provider, fake: FakeLLM) -> None:
    fake.push(overloaded())
    with pytest.raises(ProviderUnavailable) as caught:
        await provider.complete(HELLO)
    assert caught.value.status == 529
    assert caught.value.details["upstream_code"] == "overloaded_error"


async def test_an_error_event_inside_the_stream_is_unavailable(
    provider: Provider, fake: FakeLLM
) -> None:
    fake.push(stream_error(after=6))
    received: list[StreamEvent] = []
    with pytest.raises(ProviderUnavailable) as caught:
        await drain(provider, received)
    assert caught.value.details["upstream_code"] == "overloaded_error"
    assert any(isinstance(e, TextDelta) for e in received)


async def test_a_rate_limit_carries_retry_after(provider: Provider, fake: FakeLLM) -> None:
    fake.push(rate_limited(7))
    with pytest.raises(ProviderRateLimited) as caught:
        await provider.complete(HELLO)
    assert caught.value.details["retry_after_s"] == 7


async def test_a_wrong_key_is_refused_and_never_repeated(fake: FakeLLM) -> None:
    wrong = "sk-ant-wrong-key-0123456789abcdef"
    adapter = make(fake.anthropic_base_url, key=wrong)
    try:
        with pytest.raises(ProviderAuthFailed) as caught:
            await adapter.complete(HELLO)
    finally:
        await adapter.aclose()
    assert wrong not in f"{caught.value.message} {caught.value.details}"
    assert caught.value.status == 401


async def test_a_timeout_is_unavailable(fake: FakeLLM) -> None:
    adapter = make(fake.anthropic_base_url, timeout_s=0.3)
    fake.push(slow(3.0))
    try:
        with pytest.raises(ProviderUnavailable) as caught:
            await adapter.complete(HELLO)
    finally:
        await adapter.aclose()
    assert caught.value.details["reason"] == "timeout"


async def test_a_refused_connection_is_unavailable() -> None:
    adapter = make(f"http://127.0.0.1:{closed_port()}")
    try:
        with pytest.raises(ProviderUnavailable) as caught:
            await adapter.complete(HELLO)
    finally:
        await adapter.aclose()
    assert caught.value.details["reason"] == "connection_failed"


async def test_a_stream_cut_midway_is_unavailable_after_the_text_so_far(
    provider: Provider, fake: FakeLLM
) -> None:
    fake.push(cut(after=6))
    received: list[StreamEvent] = []
    with pytest.raises(ProviderUnavailable) as caught:
        await drain(provider, received)
    assert caught.value.details["reason"] == "stream_cut"
    assert any(isinstance(e, TextDelta) for e in received)
    assert not any(isinstance(e, Finish) for e in received)


async def test_a_chunk_that_is_not_json_is_unavailable(provider: Provider, fake: FakeLLM) -> None:
    fake.push(garbled(after=5))
    received: list[StreamEvent] = []
    with pytest.raises(ProviderUnavailable) as caught:
        await drain(provider, received)
    assert caught.value.details["reason"] == "malformed_response"
