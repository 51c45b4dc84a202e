"""Chat sessions (seed 001 "Create Chat Session" … "Delete Session")."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class NewSession(BaseModel):
    model_config = ConfigDict(extra="ignore")

    userId: str = Field(min_length=1, max_length=128, examples=["default-user"])
    agentId: str = Field(min_length=1, max_length=128, examples=["chat-assistant-001"])
    metadata: dict[str, Any] | None = None


class SessionFields(BaseModel):
    id: str
    userId: str
    agentId: str
    startedAt: str
    endedAt: str | None = Field(description="null while the session is active")
    # `{}` when the session was opened without any
    metadata: dict[str, Any]


class CreatedSession(SessionFields):
    createdAt: str
    updatedAt: str


class SessionCreated(BaseModel):
    success: bool = True
    session: CreatedSession


class SessionListItem(BaseModel):
    id: str
    userId: str
    agentId: str
    startedAt: str
    endedAt: str | None
    messageCount: int
    lastMessageAt: str | None = Field(description="null until the session has a message")


class SessionList(BaseModel):
    success: bool = True
    sessions: list[SessionListItem]
    total: int
    limit: int
    offset: int


class SessionAgent(BaseModel):
    id: str
    name: str
    title: str
    icon: str


class SessionDetail(SessionFields):
    agent: SessionAgent | None = Field(description="null when the agent's file was removed")
    messageCount: int
    lastMessageAt: str | None


class SessionFound(BaseModel):
    success: bool = True
    session: SessionDetail


class SessionDeleted(BaseModel):
    success: bool = True
    message: str = "Session deleted successfully"
    deletedMessages: int
