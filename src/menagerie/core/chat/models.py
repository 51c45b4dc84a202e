"""The typed values the chat store returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Role = Literal["user", "agent", "system", "tool"]
ROLES: tuple[str, ...] = ("user", "agent", "system", "tool")
MAX_MESSAGE_CHARS = 10_000
MAX_HISTORY_LIMIT = 200


@dataclass(frozen=True, slots=True)
class ChatSession:
    id: str
    tenant_id: str
    user_id: str
    agent_id: str
    title: str | None
    metadata: dict[str, Any]
    started_at: datetime
    ended_at: datetime | None
    message_count: int
    last_message_at: datetime | None

    @property
    def active(self) -> bool:
        return self.ended_at is None


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    session_id: str
    tenant_id: str
    user_id: str
    role: Role
    content: str
    reply_to_id: str | None
    model: str | None
    input_tokens: int
    output_tokens: int
    cost: float
    latency_ms: float | None
    metadata: dict[str, Any]
    created_at: datetime
    position: int


@dataclass(frozen=True, slots=True)
class Line:
    """A message as a model's context needs it: who said what. A turn's history window is
    read as these; a whole `Message` costs twice the read, up to 200 times a turn."""

    id: str
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    limit: int = 50
    offset: int = 0
    # a datetime, or a message id meaning "strictly before/after that message"
    before: datetime | str | None = None
    after: datetime | str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    thread_id: str | None = None
    order: Literal["asc", "desc"] = "asc"
    roles: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class HistoryPage:
    messages: list[Message]
    total: int
    limit: int
    offset: int

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.messages) < self.total


@dataclass(frozen=True, slots=True)
class Exchange:
    question: Message | None  # None when the question was removed or never stored
    answer: Message
