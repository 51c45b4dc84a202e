"""`GET /api/health` (seed 001 "Health Check API")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# "n/a": this installation has no such service (the seed's own word for its absent database)
ServiceState = Literal["up", "down", "n/a"]


class Services(BaseModel):
    api: ServiceState = Field(description="up when what every route needs (database, files) works")
    database: ServiceState
    sync: ServiceState = Field(
        description="the WebSocket sync service: up while started (POST /api/sync)"
    )
    filesystem: Literal["healthy", "unhealthy"]
    event_bus: ServiceState
    worker: ServiceState


class Health(BaseModel):
    status: Literal["healthy", "degraded", "unhealthy"]
    timestamp: int = Field(description="epoch milliseconds of the check")
    services: Services
    version: str = Field(description="the MADACE API version served")
    server_version: str = Field(description="Menagerie's own version")
    uptime: float = Field(description="seconds since the server started")
