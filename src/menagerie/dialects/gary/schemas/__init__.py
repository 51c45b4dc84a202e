"""Crazy Gary's wire models (seed 004), one module per resource; the envelope's model here."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from menagerie.core.identity.fields import EMAIL_PATTERN, MAX_EMAIL

# core's rule for an address, published so that what a client's schema accepts core accepts;
# the pattern's lookahead needs Python's engine (`regex_engine="python-re"` on the model)
Email = Annotated[str, Field(max_length=MAX_EMAIL, pattern=EMAIL_PATTERN)]


class ErrorBody(BaseModel):
    """Seed 004 "Error Response Format"."""

    error: str
    code: str
    details: dict[str, Any] = Field(default_factory=dict)
    timestamp: str
    request_id: str
    retry_after: int | None = None  # rate-limited answers only
