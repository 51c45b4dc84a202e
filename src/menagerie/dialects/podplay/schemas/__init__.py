"""PodPlay's wire models (seed 000), one module per resource; the envelope's model here."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    """Seed 000 "Error Response Format"."""

    success: bool = False
    error: str
    error_code: str
    details: dict[str, Any] = Field(default_factory=dict)
    request_id: str
    timestamp: str
    # the chat error example carries it: no message is stored when a request fails
    message_id: None = None
