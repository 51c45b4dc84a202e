"""Metamorph's wire models (seed 003): the field names, cases and JSON types its examples show.

Timestamps are ISO 8601 strings with milliseconds and `Z`. Request models ignore fields they
do not know (a Metamorph client may send more than Menagerie reads).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MemoryType = Literal["episodic", "semantic", "identity"]
DEFAULT_AGENT = "chat-assistant-001"


class MetamorphError(BaseModel):
    """Every error answer: `{"error": message, "code", "details"}` (seed 003 "Error Responses")."""

    error: str
    code: str
    # a string in seed 003; the precise reason rides here when the code does not say it
    details: str | None = None
    request_id: str


class Deleted(BaseModel):
    success: bool = True
    deletedAt: str


# -- sessions ------------------------------------------------------------------------------------


class NewSession(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field("Untitled session", min_length=1, max_length=500)
    # not in seed 003: which agent the session talks to
    agentId: str = Field(DEFAULT_AGENT, min_length=1, max_length=128)


class SessionCreated(BaseModel):
    id: str
    name: str
    createdAt: str


class SessionSummary(SessionCreated):
    lastAccessed: str


class SessionDetail(SessionSummary):
    messageCount: int


class SessionList(BaseModel):
    sessions: list[SessionSummary]
    vaultId: str


# -- memories ------------------------------------------------------------------------------------


class NewMemory(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: MemoryType = "semantic"
    content: str = Field(min_length=1, max_length=10_000)
    importance: float = Field(0.5, ge=0, le=1)
    metadata: dict[str, Any] = Field(default_factory=dict)


class MemoryBody(BaseModel):
    id: str
    type: str
    content: str
    importance: float
    createdAt: str


class MemoryList(BaseModel):
    memories: list[MemoryBody]
    total: int
    vaultId: str


# -- vercel oauth --------------------------------------------------------------------------------


class AuthUrl(BaseModel):
    url: str
    state: str
    expiresIn: int
    scopes: list[str]


class CallbackResult(BaseModel):
    success: bool = True
    # null when Vercel's token answer names no user (other OAuth servers) or no team (a
    # personal account); docs/contract.md
    vercelUserId: str | None
    teamId: str | None
    scopes: list[str]


class DisconnectRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    connectionId: str | None = Field(None, max_length=64)


class Disconnected(BaseModel):
    success: bool = True
    disconnectedAt: str


class ActiveConnection(BaseModel):
    id: str
    vercelUserId: str | None
    teamId: str | None
    scopes: list[str]
    status: str
    tokenExpired: bool
    tokenExpiresAt: str | None  # null: the token was issued without an expiry
    createdAt: str
    updatedAt: str


class HistoryEntry(BaseModel):
    id: str
    status: str
    createdAt: str
    updatedAt: str
    disconnectedAt: str | None  # not in seed 003: when it stopped being active


class ConnectionEventBody(BaseModel):
    event: str  # connected | disconnected | refreshed | failed
    connectionId: str | None
    detail: str | None
    createdAt: str


class ConnectionStatusBody(BaseModel):
    connected: bool
    activeConnection: ActiveConnection | None  # null when not connected
    connectionHistory: list[HistoryEntry]
    # not in seed 003: what happened, including failed attempts that left no connection
    events: list[ConnectionEventBody]
