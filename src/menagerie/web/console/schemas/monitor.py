"""Wire models of the Monitoring page: health and its components, the machine's figures, the
request counters, active alerts, and the request and error logs (paged, newest first)."""

from __future__ import annotations

from typing import Literal

from menagerie.web.console.schemas.common import Wire

HealthStatus = Literal["healthy", "degraded", "unhealthy"]


class ComponentOut(Wire):
    name: str
    kind: Literal["server", "model"]  # a part of the server, or a model provider
    status: str  # healthy | unhealthy, or a model provider's state (degraded, configured …)
    latency_ms: float | None
    error: str | None
    details: dict[str, str]  # what the check found, each value as text


class HealthOut(Wire):
    status: HealthStatus
    checked_at: str
    version: str
    uptime_s: float
    components: list[ComponentOut]  # the server's parts, then each configured model provider


class SystemOut(Wire):
    cpu_percent: float
    load_average: list[float]  # 1, 5 and 15 minutes
    memory_used_mb: int
    memory_total_mb: int
    memory_percent: float
    disk_used_mb: int
    disk_total_mb: int
    disk_percent: float


class RequestsOut(Wire):
    total: int
    errors: int  # answered with a server error (5xx)
    active: int
    error_rate: float  # errors / total, 0 to 1
    requests_per_minute: int  # answered in the last minute
    per_minute: list[int]  # answered in each of the last 15 minutes, oldest first
    avg_ms: float  # over the latest 1,000 requests
    p50_ms: float  # the percentiles: over the requests of the last five minutes
    p95_ms: float
    p99_ms: float
    window_requests: int  # how many requests those percentiles are of (0: no figure)


class OverviewOut(Wire):
    """The figures the page redraws on a timer: cheap to read, nothing checked remotely."""

    system: SystemOut
    requests: RequestsOut


class AlertOut(Wire):
    id: str
    type: str  # performance | resource | errors | provider | mcp | worker
    severity: str  # low | medium | high | critical
    message: str
    component: str
    timestamp: str
    acknowledged: bool


class AlertList(Wire):
    alerts: list[AlertOut]  # newest first


class RequestRow(Wire):
    timestamp: str
    method: str
    path: str  # never its query string
    status: int
    duration_ms: float
    client_address: str | None
    request_id: str


class RequestPage(Wire):
    requests: list[RequestRow]  # newest first
    offset: int
    has_more: bool


class ErrorRow(Wire):
    timestamp: str
    level: str  # warning | error | critical
    message: str
    component: str
    stack_trace: str | None
    request_id: str | None


class ErrorPage(Wire):
    errors: list[ErrorRow]  # newest first
    offset: int
    has_more: bool
