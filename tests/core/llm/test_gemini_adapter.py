"""The Gemini adapter against the fake upstream on loopback: real HTTP, real SDK."""

from __future__ import annotations

import base64
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
    tool_call,
    tool_calls,
)
from tests.utils.http import closed_port

MODEL = "gemini-2.0-flash"
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
    return build_provider(ProviderConfig("gemini", "gemini", SecretStr(key), base_url, timeout_s))


@pytest.fixture
async def provider(fake: FakeLLM) -> AsyncIterator[Provider]:
    adapter = make(fake.gemini_base_url)
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
    assert sent.path.endswith(f"/models/{MODEL}:streamGenerateContent")
    assert sent.query.get("alt") == "sse"
    assert sent.headers["x-goog-api-key"] == DEFAULT_KEY
    assert sent.body["contents"] == [{"role": "user", "parts": [{"text": "hello there"}]}]


async def test_a_tool_call_arrives_whole_with_a_generated_id(
    provider: Provider, fake: FakeLLM
) -> None:
    arguments = {"city": "Paris", "units": "metric", "days": [1, 2, 3]}
    fake.push(tool_call("get_weather", arguments))
    request = ChatRequest(
        MODEL, (ChatMessage("user", "weather?"),), tools=(WEATHER,), tool_choice="required"
    )
    events = await collect(provider, request)
    [call] = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert call.name == "get_weather"
    assert call.parsed_arguments() == arguments
    assert call.id.startswith("call_")  # Gemini gives none; the router needs one
    assert events[-1] == Finish("tool_calls")
    sent = fake.last_request.body
    [declaration] = sent["tools"][0]["functionDeclarations"]
    assert declaration["name"] == "get_weather"
    assert declaration["description"] == "Current weather for a city"
    schema = declaration.get("parametersJsonSchema", declaration.get("parameters_json_schema"))
    assert schema == WEATHER.parameters
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}


async def test_an_id_from_gemini_is_kept(provider: Provider, fake: FakeLLM) -> None:
    fake.push(tool_call("get_weather", {"city": "Oslo"}, id="fc-7"))
    events = await collect(provider, ChatRequest(MODEL, HELLO.messages, tools=(WEATHER,)))
    assert [e.call.id for e in events if isinstance(e, ToolCallEvent)] == ["fc-7"]


async def test_parallel_tool_calls_get_distinct_ids(provider: Provider, fake: FakeLLM) -> None:
    fake.push(
        tool_calls(
            FakeToolCall("get_weather", {"city": "Paris"}),
            FakeToolCall("get_weather", {"city": "Oslo"}),
        )
    )
    events = await collect(provider, ChatRequest(MODEL, HELLO.messages, tools=(WEATHER,)))
    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert [c.parsed_arguments()["city"] for c in calls] == ["Paris", "Oslo"]
    assert len({c.id for c in calls}) == 2


async def test_tool_results_go_back_as_function_responses(
    provider: Provider, fake: FakeLLM
) -> None:
    fake.push(tool_call("get_weather", {"city": "Paris"}))
    ask = (ChatMessage("system", "You are terse."), ChatMessage("user", "weather in Paris?"))
    events = await collect(provider, ChatRequest(MODEL, ask, tools=(WEATHER,)))
    [call] = [e.call for e in events if isinstance(e, ToolCallEvent)]
    request = ChatRequest(
        MODEL,
        (
            *ask,
            ChatMessage("assistant", "", tool_calls=(call,)),
            ChatMessage("tool", '{"temp_c": 21}', tool_call_id=call.id, name="get_weather"),
            ChatMessage("tool", "sunny", tool_call_id=call.id),
        ),
        tools=(WEATHER,),
    )
    fake.push(reply("21 degrees and sunny."))
    await collect(provider, request)
    body = fake.last_request.body
    assert body["systemInstruction"]["parts"] == [{"text": "You are terse."}]
    contents = body["contents"]
    assert contents[0] == {"role": "user", "parts": [{"text": "weather in Paris?"}]}
    assert contents[1]["role"] == "model"
    [part] = contents[1]["parts"]
    assert part["functionCall"] == {"name": "get_weather", "args": {"city": "Paris"}}
    # Gemini 3 refuses a replayed call without the signature it was issued with
    assert base64.b64decode(part["thoughtSignature"]).startswith(b"fake-signature-")
    assert contents[2] == {
        "role": "user",  # both answers in one turn; the name found from the call's id
        "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"temp_c": 21}}},
            {"functionResponse": {"name": "get_weather", "response": {"output": "sunny"}}},
        ],
    }


async def test_usage_numbers_come_from_usage_metadata(provider: Provider, fake: FakeLLM) -> None:
    fake.push(reply("counted", usage=(123, 45)))
    events = await collect(provider)
    assert Usage(123, 45) in events


async def test_generation_settings_are_sent(provider: Provider, fake: FakeLLM) -> None:
    await collect(provider, ChatRequest(MODEL, HELLO.messages, temperature=0.2, max_tokens=64))
    config = fake.last_request.body["generationConfig"]
    assert (config["temperature"], config["maxOutputTokens"]) == (0.2, 64)


async def test_a_truncated_answer_finishes_with_length(provider: Provider, fake: FakeLLM) -> None:
    fake.push(Behaviour(text="cut short by max tokens", finish="length"))
    events = await collect(provider)
    assert events[-1] == Finish("length")


async def test_complete_gathers_the_whole_answer(provider: Provider, fake: FakeLLM) -> None:
    fake.push(reply("All of it, at once.", usage=(9, 6)))
    done = await provider.complete(HELLO)
    assert (done.text, done.provider, done.model) == ("All of it, at once.", "gemini", MODEL)
    assert (done.usage.input_tokens, done.usage.output_tokens) == (9, 6)
    assert done.finish_reason == "stop"


@pytest.mark.parametrize(
    ("behaviour", "kind", "code"),
    [
        (rate_limited(2), ProviderRateLimited, "PROVIDER_RATE_LIMITED"),
        (quota_exhausted(), ProviderQuotaExhausted, "INSUFFICIENT_QUOTA"),
        (invalid_key(), ProviderAuthFailed, "INVALID_API_KEY"),
        (error(403), ProviderAuthFailed, "INVALID_API_KEY"),
        (server_error(500), ProviderUnavailable, "PROVIDER_UNAVAILABLE"),
        (overloaded(), ProviderUnavailable, "PROVIDER_UNAVAILABLE"),
        (error(404), ProviderRejected, "PROVIDER_REJECTED"),
        (error(400), ProviderRejected, "PROVIDER_REJECTED"),
    ],
)
async def test_upstream_errors_are_classified(
    provider: Provider,
    fake: FakeLLM,
    behaviour: Behaviour,
    kind: type[ProviderError],
    code: str,
) -> None:
    fake.push(behaviour)
    with pytest.raises(kind) as caught:
        await provider.complete(HELLO)
    assert caught.value.reason == code
    assert caught.value.provider == "gemini"
    assert caught.value.retryable is (kind in (ProviderRateLimited, ProviderUnavailable))
    assert len(fake.requests) == 1  # the SDK does not retry behind the router's back


async def test_a_rate_limit_carries_the_retry_delay(provider: Provider, fake: FakeLLM) -> None:
    fake.push(rate_limited(7))
    with pytest.raises(ProviderRateLimited) as caught:
        await provider.complete(HELLO)
    assert caught.value.details["retry_after_s"] == 7


async def test_a_wrong_key_is_refused_and_never_repeated(fake: FakeLLM) -> None:
    wrong = "AIzaSy-wrong-key-0123456789abcdef"
    adapter = make(fake.gemini_base_url, key=wrong)
    try:
        with pytest.raises(ProviderAuthFailed) as caught:
            await adapter.complete(HELLO)
    finally:
        await adapter.aclose()
    assert wrong not in f"{caught.value.message} {caught.value.details}"
    assert caught.value.status == 400  # Gemini's own status for a bad key


async def test_a_timeout_is_unavailable(fake: FakeLLM) -> None:
    adapter = make(fake.gemini_base_url, timeout_s=0.3)
    fake.push(slow(3.0))
    try:
        with pytest.raises(ProviderUnavailable) as caught:
            await adapter.complete(HELLO)
    finally:
        await adapter.aclose()
    assert caught.value.details["reason"] == "timeout"
    assert len(fake.requests) == 1


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
    fake.push(cut(after=4))
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
