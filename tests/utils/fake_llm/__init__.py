"""A fake upstream LLM server: real HTTP on loopback, speaking each provider's wire format.

It answers the three APIs Menagerie's SDK adapters call, exactly as the real services do:

- OpenAI `POST /v1/chat/completions` (and `GET /v1/models`): JSON, or SSE `data: {chunk}`
  lines ending with `data: [DONE]`, tool calls split across chunks, a usage chunk last.
- Anthropic `POST /v1/messages`: JSON, or its named-event SSE stream (`message_start`,
  `content_block_*`, `message_delta`, `message_stop`, with a `ping`).
- Gemini `POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent?alt=sse`
  (and the same under `/v1`, which the current SDK calls).

Tests steer it with a script: each request takes the next `Behaviour` (a reply, a tool call,
an error in that provider's own error shape, a delay, a stream cut after N chunks,
an in-stream error event, a chunk that is not JSON); when the
script is empty it echoes the last user message with realistic usage numbers. Every request
is recorded (path, headers, JSON body) so that tests can assert what an adapter sent. Keys
are checked like the real services check them: a wrong one gets that provider's refusal.

    async with FakeLLM(api_key="sk-test") as fake:
        fake.push(reply("Hello there"), tool_call("get_weather", {"city": "Paris"}))
        ...  # point an SDK at fake.openai_base_url / fake.anthropic_base_url / fake.gemini_base_url
        assert fake.last_request.body["model"] == "gpt-4o-mini"
"""

from __future__ import annotations

from tests.utils.fake_llm.behaviours import (
    CUT_TEXT,
    DEFAULT_KEY,
    Behaviour,
    FakeToolCall,
    RecordedRequest,
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
    with_behaviour,
)
from tests.utils.fake_llm.server import FakeLLM, fake_llm

__all__ = [
    "CUT_TEXT",
    "DEFAULT_KEY",
    "Behaviour",
    "FakeLLM",
    "FakeToolCall",
    "RecordedRequest",
    "cut",
    "error",
    "fake_llm",
    "garbled",
    "invalid_key",
    "overloaded",
    "quota_exhausted",
    "rate_limited",
    "reply",
    "server_error",
    "slow",
    "stream_error",
    "tool_call",
    "tool_calls",
    "with_behaviour",
]
