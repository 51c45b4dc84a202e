"""The chat page: agents, sessions, messages and the events of a streamed turn."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from menagerie.web.console.schemas.common import Wire


class AgentOut(Wire):
    name: str
    title: str
    description: str
    model: str | None
    suggestions: list[str]


class AgentList(Wire):
    agents: list[AgentOut]
    default: str


class SessionOut(Wire):
    id: str
    agent: str
    title: str | None
    message_count: int
    started_at: str
    last_message_at: str | None
    active: bool


class SessionPage(Wire):
    sessions: list[SessionOut]
    total: int
    limit: int
    offset: int


class NewSession(Wire):
    agent: str = Field(min_length=1, max_length=128)
    title: str | None = Field(None, max_length=500)


class MessageOut(Wire):
    id: str
    role: Literal["user", "agent", "system", "tool"]
    content: str
    html: str  # the content as safe HTML (Markdown for agents, escaped text otherwise)
    created_at: str
    model: str | None
    tool: dict[str, Any] | None  # a tool message: its name, arguments and whether it failed
    position: int


class MessagePage(Wire):
    """One page of a session, oldest first; `has_more`: older messages exist before it."""

    messages: list[MessageOut]
    has_more: bool
    total: int


class TurnIn(Wire):
    message: str = Field(min_length=1, max_length=10_000)
