"""What the router takes and gives: call options, the routed stream's first event, a whole
routed answer, and the managed endpoints it wakes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from menagerie.core.llm.models import FinishReason, StreamEvent, ToolCall, ToolSpec, Usage

Availability = Literal["available", "degraded", "unavailable"]


class EndpointWaker(Protocol):
    """Managed endpoints (sleeping model servers) as the router needs them."""

    def names(self) -> Iterable[str]: ...

    async def ensure_awake(self, name: str, timeout_s: float | None = None) -> str: ...

    def touch(self, name: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Routed:
    """First event of a routed stream: which model answers, and which failed before it."""

    model_id: str
    provider: str
    fallback_from: tuple[str, ...] = ()
    type: Literal["routed"] = "routed"


RoutedEvent = Routed | StreamEvent


@dataclass(frozen=True, slots=True)
class RoutedCompletion:
    model_id: str
    provider: str
    text: str
    tool_calls: tuple[ToolCall, ...]
    usage: Usage
    finish_reason: FinishReason
    cost: float
    latency_s: float
    fallback_from: tuple[str, ...] = ()


@dataclass
class CallOptions:
    temperature: float | None = None
    max_tokens: int | None = None
    tool_choice: Literal["auto", "none", "required"] | None = None
    tools: tuple[ToolSpec, ...] = field(default_factory=tuple)
