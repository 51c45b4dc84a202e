"""MADACE's wire models (seed 001), one module per resource; the envelope's model here."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field
from pydantic.json_schema import SkipJsonSchema

_ISO_DATE = re.compile(r"^\d{4}-\d\d-\d\d")
# `...T14:24:17 00:00`: a `+HH:MM` offset sent unencoded in a query (the seed's own cron
# example does: `olderThan=$(date -Iseconds)`), whose `+` arrives as a space
_SPACED_OFFSET = re.compile(r"(T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")


def _iso_only(value: Any) -> Any:
    # the seed's times are ISO 8601 strings; pydantic alone would also read 0.5 as 1970
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("an ISO 8601 time such as 2025-10-30T23:28:09Z")
    return _SPACED_OFFSET.sub(r"\1+\2", value)


IsoTime = Annotated[datetime, BeforeValidator(_iso_only)]


class ErrorBody(BaseModel):
    """Seed 001 "Error Handling": `{error: CODE, message, details?, timestamp}`.

    `POST /api/llm/test` adds `success: false` and the `provider` the caller named (its
    "Error Response"); `request_id` ties an answer to the server's log.
    """

    error: str = Field(examples=["AGENT_NOT_FOUND"])
    message: str
    details: str | SkipJsonSchema[None] = Field(
        None, examples=["Available agents: pm, analyst, architect, sm, dev"]
    )
    timestamp: int = Field(description="epoch milliseconds", examples=[1729612800000])
    request_id: str
    success: bool | SkipJsonSchema[None] = Field(None, description="POST /api/llm/test only")
    provider: str | SkipJsonSchema[None] = Field(None, description="POST /api/llm/test only")
