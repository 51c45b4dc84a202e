"""What one agent turn emits, in order, for every dialect to encode in its own stream format.

A turn yields `TurnStarted`, then any mix of `TextChunk`, `ToolCallStarted`/`ToolResult` and
`MemoryUpdate`, and ends with `TurnDone`. A failure is raised as a typed error instead; a
streaming dialect turns it into its own error event with `is_retryable(error)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from menagerie.core.chat.models import Message
from menagerie.core.errors import MenagerieError, RateLimited, Timeout, Unavailable
from menagerie.core.llm.errors import ProviderError
from menagerie.core.memory.models import Memory


@dataclass(frozen=True, slots=True)
class TurnStarted:
    session_id: str
    agent: str
    user_message: Message | None  # None when the turn answers a message already stored
    type: Literal["started"] = "started"


@dataclass(frozen=True, slots=True)
class TextChunk:
    text: str
    type: Literal["chunk"] = "chunk"


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    call_id: str
    name: str
    arguments: dict[str, Any]
    type: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True, slots=True)
class ToolResult:
    call_id: str
    name: str
    output: str
    is_error: bool = False
    type: Literal["tool_result"] = "tool_result"


@dataclass(frozen=True, slots=True)
class MemoryUpdate:
    memory: Memory
    type: Literal["memory"] = "memory"


@dataclass(frozen=True, slots=True)
class TurnDone:
    message: Message  # the agent's stored answer
    model: str
    provider: str
    input_tokens: int
    output_tokens: int
    cost: float
    latency_ms: float
    steps: int  # model calls made (more than one when tools were called)
    memories: tuple[Memory, ...] = field(default_factory=tuple)
    type: Literal["done"] = "done"


AgentEvent = TurnStarted | TextChunk | ToolCallStarted | ToolResult | MemoryUpdate | TurnDone


def is_retryable(error: BaseException) -> bool:
    """Whether sending the same request again later may succeed."""
    if isinstance(error, ProviderError):
        return error.retryable
    if isinstance(error, (Unavailable, RateLimited, Timeout)):
        return True
    return not isinstance(error, MenagerieError)
