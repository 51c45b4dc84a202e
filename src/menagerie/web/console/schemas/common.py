"""Wire models every console page shares."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConsoleError(Wire):
    error: str  # a sentence the page shows as it is
    code: str  # core's reason, e.g. SESSION_NOT_FOUND
    details: dict[str, Any]
    request_id: str


class Deleted(Wire):
    deleted: bool = True
