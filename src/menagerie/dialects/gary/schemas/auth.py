"""Seed 004 "Authentication Endpoints": requests and answers of `/api/auth/*`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from menagerie.dialects.gary.schemas import Email


class RegisterBody(BaseModel):
    # `role`, `is_admin` … are not the caller's to set
    model_config = ConfigDict(extra="ignore", regex_engine="python-re")

    email: Email
    password: str = Field(max_length=4096)
    fullName: str | None = Field(None, max_length=200)  # the seed's spelling
    name: str | None = Field(None, max_length=200, description="accepted for fullName")


class LoginBody(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=4096)


class RefreshBody(BaseModel):
    refresh_token: str | None = Field(None, max_length=512)


class ProfileBody(BaseModel):
    model_config = ConfigDict(extra="ignore")  # a profile update changes the name only

    name: str | None = Field(None, max_length=200)
    fullName: str | None = Field(None, max_length=200)


class ChangePasswordBody(BaseModel):
    current_password: str = Field(max_length=4096)
    new_password: str = Field(max_length=4096)


class AccountUser(BaseModel):
    """The seed's `user` object; ids are Menagerie's opaque strings (`usr_…`)."""

    id: int
    email: str
    name: str
    created_at: str
    last_login: str | None  # null for an account that never signed in with a password


class SignedIn(BaseModel):
    token: str
    refresh_token: str
    expires_in: int
    user: AccountUser


class Refreshed(BaseModel):
    token: str
    expires_in: int
    refresh_token: str  # the next one: refresh tokens are single-use and rotate


class Profile(BaseModel):
    user: AccountUser


class Message(BaseModel):
    message: str


class ValidatedUser(BaseModel):
    id: int
    email: str
    name: str
    roles: list[str]


class Validated(BaseModel):
    valid: bool
    user: ValidatedUser


class NotValid(BaseModel):
    """The 401 of `/api/auth/validate`: documented as a bare `{"valid": false}`."""

    valid: bool = False
