"""The typed values the memory store takes and returns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from menagerie.core.errors import Invalid

MAX_CONTENT_CHARS = 10_000


class MemoryDraft(BaseModel):
    """A memory to save; validation errors name the field."""

    model_config = ConfigDict(frozen=True)

    category: str = Field(min_length=1, max_length=64)
    content: str | None = Field(None, max_length=MAX_CONTENT_CHARS)
    key: str | None = Field(None, max_length=128)
    value: Any = None
    importance: float = Field(0.5, ge=0.0, le=1.0)
    tags: list[str] = Field(default_factory=list, max_length=32)
    metadata: dict[str, Any] = Field(default_factory=dict)
    context: str | None = Field(None, max_length=2000)
    expires_at: datetime | None = None
    agent_id: str | None = Field(None, max_length=128)
    session_id: str | None = Field(None, max_length=64)

    def __init__(self, **fields: Any) -> None:
        # Invalid, not pydantic's error: core callers (tools, extractors, dialects) handle
        # MenagerieError, and a bad field must reach the client as a 400 naming it
        try:
            super().__init__(**fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or None
            raise Invalid(
                f"{field}: {first['msg']}" if field else first["msg"],
                field=field,
                received=first.get("input") if field else None,
            ) from None

    @field_validator("category")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value

    @model_validator(mode="after")
    def _something_to_remember(self) -> MemoryDraft:
        if (self.content is None or not self.content.strip()) and self.value is None:
            raise ValueError("a memory needs content or a value")
        return self

    def text(self) -> str:
        """The searchable text: the content, else a readable rendering of key and value."""
        if self.content and self.content.strip():
            return self.content.strip()
        value = self.value if isinstance(self.value, str) else json.dumps(self.value)
        rendered = f"{self.key.replace('_', ' ')}: {value}" if self.key else value
        return rendered[:MAX_CONTENT_CHARS]


@dataclass(frozen=True, slots=True)
class Memory:
    id: str
    tenant_id: str
    user_id: str
    agent_id: str | None
    session_id: str | None
    category: str
    key: str | None
    content: str
    value: Any
    importance: float
    tags: list[str]
    metadata: dict[str, Any]
    context: str | None
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    last_accessed_at: datetime | None
    access_count: int


@dataclass(frozen=True, slots=True)
class ScoredMemory:
    memory: Memory
    relevance_score: float  # 0..1
