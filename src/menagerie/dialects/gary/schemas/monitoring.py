"""Seed 004 "Monitoring Endpoints": `/api/monitoring/health/detailed` and `/metrics`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Overall(BaseModel):
    status: str  # healthy | degraded | unhealthy
    service: str
    timestamp: str


class Component(BaseModel):
    # healthy | degraded | unhealthy | not_configured
    status: str
    last_check: str
    response_time: float  # milliseconds; -1 where nothing was measured (docs/contract.md)


class ProviderComponent(Component):
    """A model provider: `configured` while it made no call in the window; its calls'
    average time and the share that failed (0 with no call)."""

    error_rate: float


class DetailedHealth(BaseModel):
    overall: Overall
    components: dict[str, ProviderComponent | Component]


class Cpu(BaseModel):
    usage: float
    load_average: list[float]


class Usage(BaseModel):
    used: int  # megabytes
    total: int
    usage_percent: float


class Network(BaseModel):
    bytes_sent: int
    bytes_received: int
    packets_sent: int
    packets_received: int


class Requests(BaseModel):
    total: int
    successful: int
    failed: int  # answered with a server error (5xx)
    average_response_time: float  # milliseconds, over the latest requests


class SystemMetrics(BaseModel):
    cpu: Cpu
    memory: Usage
    disk: Usage
    network: Network
    requests: Requests


class RequestLogOut(BaseModel):
    timestamp: str
    method: str
    path: str  # without the query string
    status_code: int
    response_time: float  # milliseconds
    user_agent: str  # "" when the client sent none
    ip_address: str  # "" when the server does not know it


class ErrorLogOut(BaseModel):
    timestamp: str
    level: str  # warning | error | critical
    message: str
    stack_trace: str  # "" for a record without an exception
    component: str
    request_id: str  # "" for a record logged outside a request


# at least one character that is neither whitespace nor a control character (core strips
# both); spelled so that every regex engine (Python's, Rust's, JavaScript's) agrees
VISIBLE = r"[^\s\x00-\x1f\x7f]"


class IncidentIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: str = Field(min_length=1, max_length=200, pattern=VISIBLE)
    description: str = Field("", max_length=10_000)
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    assignee: str | None = Field(None, min_length=1, max_length=320, pattern=VISIBLE)


class IncidentOpened(BaseModel):
    id: str
    status: str


class IncidentOut(BaseModel):
    id: str
    title: str
    status: str  # open | investigating | resolved
    severity: str  # low | medium | high | critical
    created_at: str
    updated_at: str
    description: str
    assignee: str  # "" while nobody is assigned


class AlertOut(BaseModel):
    id: str
    type: str  # performance | resource | errors | provider
    severity: str  # low | medium | high | critical
    message: str
    timestamp: str
    component: str
    acknowledged: bool


class DashboardCpu(BaseModel):
    usage: float


class DashboardMemory(BaseModel):
    usage_percent: float


class DashboardRequests(BaseModel):
    total: int


class DashboardMetrics(BaseModel):
    cpu: DashboardCpu
    memory: DashboardMemory
    requests: DashboardRequests


class DashboardAlert(BaseModel):
    id: str
    severity: str
    message: str
    timestamp: str


class Dashboard(BaseModel):
    health: Overall
    metrics: DashboardMetrics
    alerts: list[DashboardAlert]
    incidents: list[IncidentOut]  # the open and investigated ones, newest first
