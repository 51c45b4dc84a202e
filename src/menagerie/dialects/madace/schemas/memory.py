"""Agent memory of a session (seed 001 "Get/Save/Prune Agent Memory")."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from menagerie.http.wire import IsoTime

# "value (any, required) - Memory value (string, number, boolean, object)"
MemoryValue = str | int | float | bool | dict[str, Any] | list[Any]


class SaveMemory(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # the memory store's own limits, so that the document says what is accepted
    category: str = Field(min_length=1, max_length=64, pattern=r"\S", examples=["user_preferences"])
    key: str = Field(min_length=1, max_length=128)
    value: MemoryValue
    context: str | None = Field(None, max_length=2000)
    importance: float = Field(0.5, ge=0, le=1, strict=True)  # `false` is not a score
    expiresAt: IsoTime | None = None


class SavedMemoryOut(BaseModel):
    id: str
    agentId: str
    sessionId: str
    category: str
    key: str
    value: MemoryValue
    context: str | None = Field(description="null when saved without context")
    importance: float
    expiresAt: str | None = Field(description="null: it does not expire")
    createdAt: str


class MemoryOut(BaseModel):
    id: str
    agentId: str
    sessionId: str | None = Field(description="null for the agent's memory across sessions")
    category: str
    key: str | None = Field(description="null for a memory saved as plain text elsewhere")
    value: MemoryValue = Field(description="a memory saved as plain text elsewhere: its text")
    context: str | None = Field(description="null when saved without context")
    importance: float
    lastAccessedAt: str | None = Field(description="null until the memory is read")
    expiresAt: str | None = Field(description="null: it does not expire")
    createdAt: str


class MemoryList(BaseModel):
    success: bool = True
    memory: list[MemoryOut]
    total: int


class MemorySaved(BaseModel):
    success: bool = True
    memory: SavedMemoryOut


class MemoryPruned(BaseModel):
    success: bool = True
    message: str = "Memory pruned successfully"
    deletedCount: int
