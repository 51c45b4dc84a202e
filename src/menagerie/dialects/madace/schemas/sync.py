"""Seed 001 "Sync Service API"."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema


class SyncClientOut(BaseModel):
    id: str
    connectedAt: int = Field(description="epoch milliseconds")
    lastPing: int = Field(description="epoch milliseconds of its last ping; connectedAt before")
    metadata: dict[str, str] = Field(description="source (?source=) and userAgent")


class SyncStatusOut(BaseModel):
    running: bool
    clients: list[SyncClientOut] = Field(description="the caller's tenant's clients")
    clientCount: int
    uptime: int = Field(description="milliseconds since it started; 0 while stopped")


class SyncAction(BaseModel):
    model_config = ConfigDict(extra="ignore")

    action: Literal["start", "stop"]
    # absent: MENAGERIE_MADACE_SYNC_PORT, by default the seed's 3001
    wsPort: Annotated[int, Field(ge=1024, le=65535)] | SkipJsonSchema[None] = None
    statePaths: list[Annotated[str, Field(min_length=1, max_length=1000)]] = Field(
        default_factory=lambda: ["madace-data/workflow-states"],
        min_length=1,
        max_length=20,
        description="folders under the MADACE data folder (`madace-data/…`)",
    )
    configPath: str = Field("madace-data/config/config.yaml", min_length=1, max_length=1000)

    @field_validator("wsPort", mode="before")
    @classmethod
    def _port_or_absent(cls, value: object) -> object:
        # the document says integer: an explicit null is refused, an absent port is the default
        if value is None:
            raise ValueError("wsPort must be an integer; leave it out for the default port")
        return value


class SyncActionDone(BaseModel):
    success: bool = True
    message: str
    running: bool
    wsPort: int | SkipJsonSchema[None] = Field(None, description="start only")
    clientCount: int | SkipJsonSchema[None] = Field(None, description="start only")
