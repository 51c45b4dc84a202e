"""The OpenAI-compatible adapter against the fake upstream on loopback: real HTTP, real SDK."""

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

WEATHER = ToolSpec(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
HELLO = ChatRequest("gpt-4o-mini", (ChatMessage("user", "hello there"),))


@pytest.fixture
async def fake() -> AsyncIterator[FakeLLM]:
    async with FakeLLM(api_key=DEFAULT_KEY) as server:
        yield server


def make(base_url: str, *, key: str | None = DEFAULT_KEY, timeout_s: float = 5.0) -> Provider:
    secret = SecretStr(key) if key is not None else None
    return build_provider(ProviderConfig("openai", "openai", secret, base_url, timeout_s))


@pytest.fixture
async def provider(fake: FakeLLM) -> AsyncIterator[Provider]:
    adapter = make(fake.openai_base_url)
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
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {DEFAULT_KEY}"
    assert sent.body["model"] == "gpt-4o-mini"
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["messages"] == [{"role": "user", "content": "hello there"}]


async def test_a_fragmented_tool_call_arrives_whole(provider: Provider, fake: FakeLLM) -> None:
    arguments = {"city": "Paris", "units": "metric", "days": [1, 2, 3]}
    fake.push(tool_call("get_weather", arguments, id="call_weather_1"))
    request = ChatRequest(
        "gpt-4o-mini", (ChatMessage("user", "weather?"),), tools=(WEATHER,), tool_choice="auto"
    )
    events = await collect(provider, request)
    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert calls == [ToolCall("call_weather_1", "get_weather", json.dumps(arguments))]
    assert calls[0].parsed_arguments() == arguments
    assert events[-1] == Finish("tool_calls")
    sent = fake.last_request.body
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather for a city",
                "parameters": WEATHER.parameters,
            },
        }
    ]
    assert sent["tool_choice"] == "auto"


async def test_parallel_tool_calls_each_arrive_whole(provider: Provider, fake: FakeLLM) -> None:
    fake.push(
        tool_calls(
            FakeToolCall("get_weather", {"city": "Paris"}),
            FakeToolCall("get_weather", {"city": "Oslo"}),
        )
    )
    events = await collect(provider, ChatRequest("m", HELLO.messages, tools=(WEATHER,)))
    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert [c.parsed_arguments()["city"] for c in calls] == ["Paris", "Oslo"]
    assert len({c.id for c in calls}) == 2


async def test_tool_results_go_back_in_openai_format(provider: Provider, fake: FakeLLM) -> None:
    call = ToolCall("call_abc", "get_weather", '{"city": "Paris"}')
    request = ChatRequest(
        "gpt-4o-mini",
        (
            ChatMessage("system", "You are terse."),
            ChatMessage("user", "weather in Paris?"),
            ChatMessage("assistant", "", tool_calls=(call,)),
            ChatMessage("tool", '{"temp_c": 21}', tool_call_id="call_abc", name="get_weather"),
        ),
        tools=(WEATHER,),
    )
    fake.push(reply("It is 21 degrees."))
    events = await collect(provider, request)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "It is 21 degrees."
    assert fake.last_request.body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_abc",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_abc", "content": '{"temp_c": 21}'},
    ]


async def test_usage_numbers_come_from_the_usage_chunk(provider: Provider, fake: FakeLLM) -> None:
    fake.push(reply("counted", usage=(123, 45)))
    events = await collect(provider)
    assert Usage(123, 45) in events


async def test_generation_settings_are_sent(provider: Provider, fake: FakeLLM) -> None:
    request = ChatRequest("m", HELLO.messages, temperature=0.2, max_tokens=64)
    await collect(provider, request)
    body = fake.last_request.body
    assert body["temperature"] == 0.2
    # a compatible server (not api.openai.com) knows only the classic field
    assert body["max_tokens"] == 64
    assert "max_completion_tokens" not in body
    assert "tools" not in body  # nor tool_choice: OpenAI refuses it without tools


async def test_a_truncated_answer_finishes_with_length(provider: Provider, fake: FakeLLM) -> None:
    fake.push(Behaviour(text="cut short by max tokens", finish="length"))
    events = await collect(provider)
    assert events[-1] == Finish("length")


async def test_complete_gathers_the_whole_answer(provider: Provider, fake: FakeLLM) -> None:
    fake.push(reply("All of it, at once.", usage=(9, 6)))
    done = await provider.complete(HELLO)
    assert (done.text, done.provider, done.model) == (
        "All of it, at once.",
        "openai",
        "gpt-4o-mini",
    )
    assert (done.usage.input_tokens, done.usage.output_tokens) == (9, 6)
    assert done.finish_reason == "stop"
    assert done.tool_calls == ()


async def test_default_echo_has_realistic_usage(provider: Provider) -> None:
    done = await provider.complete(HELLO)
    assert done.text == "Echo: hello there"
    assert done.usage.input_tokens > 3
    assert done.usage.output_tokens > 0


async def test_works_without_a_key_for_local_servers() -> None:
    async with FakeLLM(api_key=None) as ollama:
        adapter = make(ollama.openai_base_url, key=None)
        try:
            assert (await adapter.complete(HELLO)).text == "Echo: hello there"
        finally:
            await adapter.aclose()


@pytest.mark.parametrize(
    ("behaviour", "kind", "code"),
    [
        (rate_limited(2), ProviderRateLimited, "PROVIDER_RATE_LIMITED"),
        (quota_exhausted(), ProviderQuotaExhausted, "INSUFFICIENT_QUOTA"),
        (error(401, code="invalid_api_key"), ProviderAuthFailed, "INVALID_API_KEY"),
        (error(403), ProviderAuthFailed, "INVALID_API_KEY"),
        (server_error(500), ProviderUnavailable, "PROVIDER_UNAVAILABLE"),
        (server_error(503), ProviderUnavailable, "PROVIDER_UNAVAILABLE"),
        (error(404), ProviderRejected, "PROVIDER_REJECTED"),
        (error(400, code="invalid_value", message="bad input"), ProviderRejected, None),
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
    assert caught.value.provider == "openai"
    assert caught.value.retryable is (kind in (ProviderRateLimited, ProviderUnavailable))
    assert len(fake.requests) == 1  # the SDK does not retry behind the router's back


async def test_a_rate_limit_carries_retry_after(provider: Provider, fake: FakeLLM) -> None:
    fake.push(rate_limited(7))
    with pytest.raises(ProviderRateLimited) as caught:
        await provider.complete(HELLO)
    assert caught.value.details["retry_after_s"] == 7
    assert caught.value.status == 429


async def test_a_wrong_key_is_refused_and_never_repeated(fake: FakeLLM) -> None:
    wrong = "sk-wrong-key-0123456789abcdefXYZW"
    adapter = make(fake.openai_base_url, key=wrong)
    try:
        with pytest.raises(ProviderAuthFailed) as caught:
            await adapter.complete(HELLO)
    finally:
        await adapter.aclose()
    text = f"{caught.value.message} {caught.value.details}"
    assert wrong not in text
    assert "XYZW" not in text  # not even the masked tail OpenAI quotes back
    assert caught.value.status == 401


async def test_a_key_echoed_by_the_upstream_is_scrubbed(provider: Provider, fake: FakeLLM) -> None:
    fake.push(error(400, message=f"key {DEFAULT_KEY} is not allowed here"))
    with pytest.raises(ProviderRejected) as caught:
        await provider.complete(HELLO)
    assert DEFAULT_KEY not in caught.value.message


async def test_a_timeout_is_unavailable(fake: FakeLLM) -> None:
    adapter = make(fake.openai_base_url, timeout_s=0.3)
    fake.push(slow(3.0))
    try:
        with pytest.raises(ProviderUnavailable) as caught:
            await adapter.complete(HELLO)
    finally:
        await adapter.aclose()
    assert caught.value.details["reason"] == "timeout"
    assert "0.3s" in caught.value.message


async def test_a_refused_connection_is_unavailable() -> None:
    base_url = f"http://127.0.0.1:{closed_port()}/v1"
    adapter = make(base_url)
    try:
        with pytest.raises(ProviderUnavailable) as caught:
            await adapter.complete(HELLO)
    finally:
        await adapter.aclose()
    assert caught.value.details["reason"] == "connection_failed"
    assert base_url in caught.value.message


async def test_a_stream_cut_midway_is_unavailable_after_the_text_so_far(
    provider: Provider, fake: FakeLLM
) -> None:
    fake.push(cut(after=4))
    received: list[StreamEvent] = []
    with pytest.raises(ProviderUnavailable) as caught:
        await drain(provider, received)
    assert caught.value.details["reason"] == "stream_cut"
    assert any(isinstance(e, TextDelta) for e in received)
    assert not any(isinstance(e, Finish) for e in received)


async def test_an_error_inside_the_stream_is_unavailable(provider: Provider, fake: FakeLLM) -> None:
    fake.push(stream_error(after=4))
    received: list[StreamEvent] = []
    with pytest.raises(ProviderUnavailable) as caught:
        await drain(provider, received)
    assert caught.value.details["upstream_code"] == "server_error"
    assert any(isinstance(e, TextDelta) for e in received)


async def test_a_chunk_that_is_not_json_is_unavailable(provider: Provider, fake: FakeLLM) -> None:
    fake.push(garbled(after=5))
    received: list[StreamEvent] = []
    with pytest.raises(ProviderUnavailable) as caught:
        await drain(provider, received)
    assert caught.value.details["reason"] == "malformed_response"


async def test_the_environment_s_proxy_is_used_unless_no_proxy_exempts_the_host(
    fake: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a proxy that refuses every connection: a call that went through it fails to connect
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    proxied = make(fake.openai_base_url)
    try:
        with pytest.raises(ProviderUnavailable) as failed:
            await collect(proxied)
        assert failed.value.details["reason"] == "connection_failed"
    finally:
        await proxied.aclose()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    fake.push(reply("straight through"))
    direct = make(fake.openai_base_url)
    try:
        events = await collect(direct)
    finally:
        await direct.aclose()
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "straight through"
