"""Crazy Gary's wire models (seed 004), one module per resource; the envelope's model here."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    """Seed 004 "Error Response Format"."""

    error: str
    code: str
    details: dict[str, Any] = Field(default_factory=dict)
    timestamp: str
    request_id: str
    retry_after: int | None = None  # rate-limited answers only
