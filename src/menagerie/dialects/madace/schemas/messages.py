"""Chat messages and the SSE stream (seed 001 "Send Message", "Get Messages", "Stream")."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ROLES = ("user", "agent")


class NewMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # checked by the route, so that another role answers the seed's INVALID_ROLE
    role: str = Field(json_schema_extra={"enum": list(ROLES)}, examples=["user"])
    # no maxLength: a longer message answers the seed's 413 MESSAGE_TOO_LONG, not a 400
    content: str = Field(
        min_length=1,
        pattern=r"\S",
        description="at most 10,000 characters (longer: 413 MESSAGE_TOO_LONG)",
    )
    replyToId: str | None = None


class AnswerMetadata(BaseModel):
    """An agent's answer: which model wrote it and what it cost."""

    model_config = ConfigDict(extra="allow")  # the caller's own keys beside ours

    model: str = Field(examples=["gemma3:latest"])
    tokens: int
    cost: float
    latencyMs: float | None


class MessageOut(BaseModel):
    id: str
    sessionId: str
    role: str
    content: str
    replyToId: str | None
    timestamp: str
    metadata: AnswerMetadata | dict[str, Any] | None = Field(
        description="null when the message has none"
    )


class MessagePosted(BaseModel):
    success: bool = True
    message: MessageOut


class MessagePage(BaseModel):
    success: bool = True
    messages: list[MessageOut]
    total: int
    limit: int
    offset: int
    hasMore: bool


class StreamRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sessionId: str = Field(min_length=1, max_length=64)
    agentId: str = Field(min_length=1, max_length=128)
    replyToId: str | None = None
    # not in the seed: post the user's message and answer it in one request
    content: str | None = None


class ChunkEvent(BaseModel):
    type: Literal["chunk"] = "chunk"
    content: str


class MemoryEvent(BaseModel):
    type: Literal["memory"] = "memory"
    category: str
    key: str | None
    value: Any


class ToolCallEvent(BaseModel):
    type: Literal["tool_call"] = "tool_call"
    name: str
    arguments: dict[str, Any]


class ToolResultEvent(BaseModel):
    type: Literal["tool_result"] = "tool_result"
    name: str
    output: str
    isError: bool


class ErrorEvent(BaseModel):
    type: Literal["error"] = "error"
    error: str
    code: str = Field(description="one of the seed's codes (STREAM_ERROR, LLM_UNAVAILABLE …)")
    retryable: bool


StreamEvent = ChunkEvent | MemoryEvent | ToolCallEvent | ToolResultEvent | ErrorEvent

STREAM_EVENTS = (ChunkEvent, MemoryEvent, ToolCallEvent, ToolResultEvent, ErrorEvent)
