"""The offline model: deterministic, streamed word by word, honest, and scriptable for tools."""

from __future__ import annotations

import json
import time

import pytest

from menagerie.core.llm.errors import ProviderRejected
from menagerie.core.llm.models import (
    ChatMessage,
    ChatRequest,
    Finish,
    TextDelta,
    ToolCallEvent,
    ToolSpec,
    Usage,
)
from menagerie.core.llm.providers.base import ProviderConfig
from menagerie.core.llm.providers.offline import MODEL, OfflineProvider

TIME_TOOL = ToolSpec("get_time", "current time", {"type": "object", "properties": {}})


def provider(delay: float = 0.0) -> OfflineProvider:
    return OfflineProvider(ProviderConfig("offline", "offline"), token_delay_s=delay)


async def collect(request: ChatRequest, delay: float = 0.0) -> list[object]:
    return [event async for event in provider(delay).stream(request)]


async def test_streams_a_deterministic_honest_answer_word_by_word() -> None:
    request = ChatRequest(MODEL, (ChatMessage("user", "What is the capital of France?"),))
    first = await collect(request)
    second = await collect(request)
    assert first == second
    deltas = [e.text for e in first if isinstance(e, TextDelta)]
    assert len(deltas) > 10
    text = "".join(deltas)
    assert text.startswith("[offline model]")
    assert "What is the capital of France?" in text
    usage = next(e for e in first if isinstance(e, Usage))
    assert usage.input_tokens > 0
    assert usage.output_tokens > 0
    assert first[-1] == Finish("stop")


async def test_paces_its_stream() -> None:
    request = ChatRequest(MODEL, (ChatMessage("user", "one two three four five"),))
    started = time.perf_counter()
    events = await collect(request, delay=0.01)
    words = sum(isinstance(e, TextDelta) for e in events)
    assert time.perf_counter() - started >= words * 0.01 * 0.9


async def test_calls_a_scripted_tool_that_was_offered() -> None:
    message = ChatMessage("user", 'please\n/tool get_time {"tz": "Europe/Paris"}')
    events = await collect(ChatRequest(MODEL, (message,), tools=(TIME_TOOL,)))
    call = next(e for e in events if isinstance(e, ToolCallEvent)).call
    assert call.name == "get_time"
    assert json.loads(call.arguments) == {"tz": "Europe/Paris"}
    assert events[-1] == Finish("tool_calls")


async def test_ignores_a_script_for_a_tool_not_offered_or_disabled() -> None:
    message = ChatMessage("user", "/tool rm_rf {}")
    events = await collect(ChatRequest(MODEL, (message,), tools=(TIME_TOOL,)))
    assert not any(isinstance(e, ToolCallEvent) for e in events)
    disabled = ChatRequest(
        MODEL, (ChatMessage("user", "/tool get_time {}"),), tools=(TIME_TOOL,), tool_choice="none"
    )
    assert not any(isinstance(e, ToolCallEvent) for e in await collect(disabled))


async def test_reports_a_tool_result() -> None:
    messages = (
        ChatMessage("user", "/tool get_time {}"),
        ChatMessage("tool", "12:00 UTC", tool_call_id="call_1", name="get_time"),
    )
    events = await collect(ChatRequest(MODEL, messages, tools=(TIME_TOOL,)))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "[offline model] get_time returned: 12:00 UTC"


async def test_stops_at_max_tokens() -> None:
    request = ChatRequest(MODEL, (ChatMessage("user", "hello"),), max_tokens=3)
    events = await collect(request)
    assert sum(isinstance(e, TextDelta) for e in events) == 3
    assert events[-1] == Finish("length")


async def test_rejects_other_models() -> None:
    with pytest.raises(ProviderRejected):
        await provider().complete(ChatRequest("gpt-4o", (ChatMessage("user", "hi"),)))
