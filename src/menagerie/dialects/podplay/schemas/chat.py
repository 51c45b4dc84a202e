"""Seed 000 "Chat & AI Agents API": Mama Bear chat, history and memories."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

# core's rule for a session id (core/chat/records.py), spelled out for clients and fuzzers
SESSION_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: str = Field(min_length=1)
    user_id: str | None = Field(None, max_length=128)
    session_id: str | None = Field(None, pattern=SESSION_ID)
    context: dict[str, Any] = Field(default_factory=dict)
    stream: StrictBool = False
    model_preference: str | None = Field(None, max_length=200)


class ChatMetadata(BaseModel):
    response_time: float  # seconds the turn took
    # no model Menagerie calls reports one: -1.0 says "not measured" (docs/contract.md)
    confidence: float
    context_used: bool
    memory_stored: bool
    tool_steps: int


class ChatAnswer(BaseModel):
    success: Literal[True] = True
    response: str
    session_id: str
    message_id: str
    model_used: str
    tokens_used: int
    cost: float
    timestamp: str
    metadata: ChatMetadata


class StreamChunk(BaseModel):
    type: Literal["chunk"] = "chunk"
    content: str


class StreamComplete(ChatAnswer):
    type: Literal["complete"] = "complete"


class StreamError(BaseModel):
    type: Literal["error"] = "error"
    success: Literal[False] = False
    error: str
    error_code: str
    details: dict[str, Any] = Field(default_factory=dict)
    retryable: bool


class HistoryMessage(BaseModel):
    message_id: str
    session_id: str
    user_message: str | None  # null when the question was removed or never stored
    ai_response: str
    model_used: str | None  # null for an answer stored without a model (an import)
    timestamp: str
    tokens_used: int
    cost: float


class Pagination(BaseModel):
    total: int
    limit: int
    offset: int
    has_more: bool


class History(BaseModel):
    success: Literal[True] = True
    messages: list[HistoryMessage]
    pagination: Pagination


class SessionDeleted(BaseModel):
    success: Literal[True] = True
    message: str
    session_id: str


class MemoryIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user_id: str | None = Field(None, max_length=128)
    content: str = Field(min_length=1, max_length=10_000)
    category: str = Field("general", min_length=1, max_length=64)
    metadata: dict[str, Any] = Field(default_factory=dict)


class MemoryStored(BaseModel):
    success: Literal[True] = True
    memory_id: str
    message: str


class MemoryItem(BaseModel):
    memory_id: str
    content: str
    category: str
    relevance_score: float
    created_at: str
    metadata: dict[str, Any]  # the caller's own, as stored


class Memories(BaseModel):
    success: Literal[True] = True
    memories: list[MemoryItem]
    timestamp: str
