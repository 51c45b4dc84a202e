"""Menagerie's sign-in and API-token routes, in PodPlay's style (the seed has none)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class LoginIn(BaseModel):
    email: str = Field(max_length=320)
    password: str


class TokenCreateIn(BaseModel):
    # core's rule (core/identity/tokens.py): no control characters, not blank
    name: str = Field(max_length=200, pattern=r"^[^\x00-\x1f]*[^\s\x00-\x1f][^\x00-\x1f]*$")


class User(BaseModel):
    user_id: str
    email: str | None
    name: str | None
    roles: list[str]
    created_at: str | None = None
    last_login: str | None = None


class LoggedIn(BaseModel):
    success: Literal[True] = True
    message: str
    user: User
    expires_in: int


class LoggedOut(BaseModel):
    success: Literal[True] = True
    message: str
    session_ended: bool


class Me(BaseModel):
    success: Literal[True] = True
    user: User
    tenant_id: str
    auth_method: str


class TokenInfo(BaseModel):
    token_id: str
    name: str
    prefix: str
    user_id: str | None
    status: Literal["active", "revoked"]
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


class TokenIssued(TokenInfo):
    success: Literal[True] = True
    message: str
    token: str  # shown once, here


class TokenList(BaseModel):
    success: Literal[True] = True
    tokens: list[TokenInfo]
    total: int


class TokenRevoked(BaseModel):
    success: Literal[True] = True
    message: str
    token_id: str
    revoked_at: str | None
