"""Maintenance mode (Menagerie's addition, docs/contract.md "PodPlay"): the admin route's
request and answer, in the words of seed 000's `maintenance_mode` event."""

from __future__ import annotations

from pydantic import BaseModel, Field, StrictBool

from menagerie.http.wire import IsoTime


class MaintenanceIn(BaseModel):
    enabled: StrictBool
    message: str = Field(default="", max_length=2000)
    estimated_return: IsoTime | None = None
    # empty: every service this server's dialects check (chat, mcp_marketplace, workspaces)
    affected_services: list[str] = Field(default_factory=list, max_length=50)


class MaintenanceOut(BaseModel):
    success: bool = True
    maintenance_active: bool
    message: str
    affected_services: list[str]
    start_time: str | None
    estimated_return: str | None
