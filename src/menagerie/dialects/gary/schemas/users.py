"""Seed 004 "User Management Endpoints": requests and answers of `/api/users*`."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from menagerie.dialects.gary.schemas import Email

Role = Annotated[str, Field(max_length=32)]


class UserCreateBody(BaseModel):
    model_config = ConfigDict(extra="ignore", regex_engine="python-re")

    username: str = Field(max_length=200)
    email: Email
    password: str | None = Field(None, max_length=4096)
    roles: list[Role] | None = Field(None, max_length=16)
    role: str | None = Field(None, max_length=32)
    is_active: StrictBool = True


class UserUpdateBody(BaseModel):
    # fields outside the caller's allow-list (core decides) are ignored, not refused
    model_config = ConfigDict(extra="ignore", regex_engine="python-re")

    username: str | None = Field(None, max_length=200)
    email: Email | None = None
    password: str | None = Field(None, max_length=4096)
    roles: list[Role] | None = Field(None, max_length=16)
    role: str | None = Field(None, max_length=32)
    is_active: StrictBool | None = None


class UserEntry(BaseModel):
    id: int
    username: str
    email: str
    created_at: str
    roles: list[str]
    is_active: bool
    last_login: str | None
