"""Seed 000 "Health & Monitoring API": `/api/test-connection`, `/api/health`,
`/api/health/{service_name}`. Durations are strings as the seed writes them (`"0.8s"`,
`"15ms"`); where nothing was measured yet they are null (docs/contract.md, "PodPlay")."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TestConnection(BaseModel):
    status: str
    message: str
    service: str
    backend_running: bool
    version: str
    server_version: str
    features: list[str]
    timestamp: str


class MamaBearService(BaseModel):
    status: str
    response_time: str | None  # the average model call of the window; null before the first
    memory_available: bool
    model_router: str
    agent_ready: bool


class McpMarketplaceService(BaseModel):
    status: str
    # what the counts cover: "tenant" (the caller's), "server" (an admin), "anonymous"
    scope: str
    servers_online: int  # -1: not disclosed to an anonymous caller
    servers_total: int
    last_sync: str | None
    error: str | None = None


class DatabaseService(BaseModel):
    status: str
    backend: str
    connection_pool: str | None  # "in use/size"; null for a pool that does not count
    query_avg_time: str | None  # null while the database does not answer
    error: str | None = None


class ComponentService(BaseModel):
    """The event bus, the worker, the data directory: status, probe time, and what each
    component reports about itself."""

    model_config = ConfigDict(extra="allow")

    status: str
    response_time: str | None
    error: str | None = None


class ModelRouterService(BaseModel):
    status: str
    state: str  # operational | degraded | failing
    primary_model: str | None
    models_available: int
    providers_failing: list[str]


class Services(BaseModel):
    mama_bear: MamaBearService
    mcp_marketplace: McpMarketplaceService
    database: DatabaseService
    event_bus: ComponentService
    worker: ComponentService
    filesystem: ComponentService
    # PodPlay's provider name -> healthy | degraded | unhealthy | configured | not_configured
    model_providers: dict[str, str]
    model_router: ModelRouterService


class Metrics(BaseModel):
    uptime: str
    uptime_seconds: float
    total_requests: int
    avg_response_time: str
    error_rate: float
    active_connections: int


class ResourceUsage(BaseModel):
    cpu_percent: float
    memory_percent: float
    disk_percent: float


class Health(BaseModel):
    status: str
    timestamp: str
    version: str
    server_version: str
    services: Services
    metrics: Metrics
    resource_usage: ResourceUsage


class Performance(BaseModel):
    avg_response_time: str | None  # null before the first model call
    requests_per_minute: int
    error_rate: float


class MamaBearDetails(BaseModel):
    agent_ready: bool
    memory_service: str  # connected | disconnected
    model_router: str
    last_request: str | None  # the latest model call; null before the first
    performance: Performance
    response_time: str | None
    memory_available: bool


class ServiceHealth(BaseModel):
    service: str
    status: str
    # Mama Bear's documented details; any other service, the fields of its /api/health entry
    details: MamaBearDetails | dict[str, Any] = Field(union_mode="left_to_right")
