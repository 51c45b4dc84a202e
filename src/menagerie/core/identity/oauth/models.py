"""Typed values the OAuth service hands out. None of them ever holds a token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    url: str  # where to send the user's browser
    state: str
    expires_in: int  # seconds the state stays valid
    scopes: tuple[str, ...]
    redirect_uri: str


@dataclass(frozen=True, slots=True)
class Connection:
    id: str
    provider: str
    external_user_id: str | None
    team_id: str | None
    scopes: tuple[str, ...]
    status: str  # active | disconnected | replaced | expired
    token_expires_at: datetime | None
    token_expired: bool
    created_at: datetime
    updated_at: datetime
    disconnected_at: datetime | None


@dataclass(frozen=True, slots=True)
class ConnectionEvent:
    id: str
    event: str  # connected | disconnected | refreshed | failed
    connection_id: str | None
    detail: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    active: Connection | None
    history: tuple[Connection, ...]  # newest first
    events: tuple[ConnectionEvent, ...]  # newest first

    @property
    def connected(self) -> bool:
        return self.active is not None
