"""The typed values that flow between the agent loop, the router and every provider."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A model's request to run one tool; `arguments` is the JSON text the model produced."""

    id: str
    name: str
    arguments: str = "{}"

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as an object; text that is not a JSON object reads as empty."""
        try:
            value = json.loads(self.arguments or "{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None  # on a `tool` message: the call it answers
    name: str | None = None  # on a `tool` message: the tool's name


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool offered to the model: its input is described by a JSON Schema."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One model call. `model` is the provider's own model name."""

    model: str
    messages: tuple[ChatMessage, ...]
    tools: tuple[ToolSpec, ...] = ()
    temperature: float | None = None
    max_tokens: int | None = None
    tool_choice: Literal["auto", "none", "required"] | None = None


# --- the stream a provider yields ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str
    type: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ToolCallEvent:
    """A complete tool call: adapters gather the argument fragments before yielding it."""

    call: ToolCall
    type: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    type: Literal["usage"] = "usage"

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class Finish:
    reason: FinishReason = "stop"
    type: Literal["finish"] = "finish"


@dataclass(frozen=True, slots=True)
class StreamError:
    """A failure after the stream had started; emitted by the router, never by adapters."""

    message: str
    code: str = "PROVIDER_ERROR"
    retryable: bool = False
    type: Literal["error"] = "error"


StreamEvent = TextDelta | ToolCallEvent | Usage | Finish | StreamError


@dataclass(frozen=True, slots=True)
class Completion:
    """A whole answer, gathered from a stream."""

    model: str
    provider: str
    text: str
    tool_calls: tuple[ToolCall, ...]
    usage: Usage
    finish_reason: FinishReason

    @classmethod
    async def gather(cls, model: str, provider: str, events: Any) -> Completion:
        """Collect a stream of events into one completion; a stream error raises."""
        from menagerie.core.llm.errors import ProviderError

        text: list[str] = []
        calls: list[ToolCall] = []
        usage = Usage()
        reason: FinishReason = "stop"
        async for event in events:
            if isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, ToolCallEvent):
                calls.append(event.call)
            elif isinstance(event, Usage):
                usage = event
            elif isinstance(event, Finish):
                reason = event.reason
            elif isinstance(event, StreamError):
                raise ProviderError(
                    event.message, provider=provider, reason=event.code, retryable=event.retryable
                )
        return cls(model, provider, "".join(text), tuple(calls), usage, reason)
