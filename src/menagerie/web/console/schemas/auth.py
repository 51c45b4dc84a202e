"""Signing in and out of the console."""

from __future__ import annotations

from pydantic import Field

from menagerie.web.console.schemas.common import Wire


class SignIn(Wire):
    """An API token (the admin token printed at the first start is one), or an account."""

    token: str | None = Field(None, max_length=4096)
    email: str | None = Field(None, max_length=320)
    password: str | None = Field(None, max_length=1024)


class ConsoleUser(Wire):
    id: str
    email: str | None
    name: str | None
    roles: list[str]
    is_admin: bool


class SignedIn(Wire):
    user: ConsoleUser
    tenant_id: str
    # sent back in X-CSRF-Token on every write; null when the caller used a bearer credential
    csrf_token: str | None
    via: str  # how the session was opened: cookie, token, jwt …
