"""MADACE's wire models (seed 001), one module per resource; the envelope's model here."""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema


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
