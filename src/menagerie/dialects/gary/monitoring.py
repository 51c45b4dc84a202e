"""Crazy Gary's monitoring routes (seed 004): detailed health, metrics, logs, alerts, incidents.

All are operator data (the machine, every provider's health, the logs), so all need an admin
of the tenant; which log rows an admin reads is core's (core/ops/logbook.py). Every figure is
read when asked: the database's and the event bus's round trip, each model provider's state
and its calls of the rolling window, psutil's CPU, memory, disk and network counters, and the
server's request counters.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from menagerie.core.clock import iso
from menagerie.core.ops.alerts import Alert
from menagerie.core.ops.health import HealthReport
from menagerie.core.ops.incidents import Incident
from menagerie.dialects.gary.deps import AdminDep, PlatformDep
from menagerie.dialects.gary.schemas.monitoring import (
    AlertOut,
    Component,
    Cpu,
    Dashboard,
    DashboardAlert,
    DashboardCpu,
    DashboardMemory,
    DashboardMetrics,
    DashboardRequests,
    DetailedHealth,
    ErrorLogOut,
    IncidentIn,
    IncidentOpened,
    IncidentOut,
    Network,
    Overall,
    ProviderComponent,
    RequestLogOut,
    Requests,
    SystemMetrics,
    Usage,
)
from menagerie.http.health import http_status
from menagerie.http.openapi import errors
from menagerie.http.wire import IsoTime
from menagerie.platform import Platform

router = APIRouter(prefix="/api/monitoring", tags=["monitoring"])
NOT_MEASURED = -1.0


def _components(
    platform: Platform, report: HealthReport
) -> dict[str, ProviderComponent | Component]:
    checked = iso(report.checked_at) or ""
    database = report.components["database"]
    bus = report.components["event_bus"]
    components: dict[str, ProviderComponent | Component] = {
        "database": Component(
            status=database.status,
            last_check=checked,
            response_time=database.latency_ms if database.latency_ms is not None else NOT_MEASURED,
        ),
        # the seed's Redis is the event bus's (and rate limits'), when Redis is configured
        "redis": Component(
            status=bus.status if platform.settings.redis_url else "not_configured",
            last_check=checked,
            response_time=(
                bus.latency_ms
                if platform.settings.redis_url and bus.latency_ms is not None
                else NOT_MEASURED
            ),
        ),
    }
    calls = platform.health.model_calls
    for provider, state in report.provider_states.items():
        if state == "not_configured":
            continue
        performance = calls.performance(provider)
        components[provider] = ProviderComponent(
            status=state,
            last_check=iso(performance.last_call_at) or checked,
            response_time=(
                performance.avg_latency_ms
                if performance.avg_latency_ms is not None
                else NOT_MEASURED
            ),
            error_rate=performance.error_rate,
        )
    return components


@router.get(
    "/health/detailed",
    response_model=DetailedHealth,
    responses={503: {"model": DetailedHealth, "description": "the server is unhealthy"}},
)
async def detailed_health(
    platform: PlatformDep, admin: AdminDep, response: Response
) -> DetailedHealth:
    report = await platform.health.report()
    response.status_code = http_status(report)
    return DetailedHealth(
        overall=Overall(
            status=report.status, service="crazy-gary", timestamp=iso(report.checked_at) or ""
        ),
        components=_components(platform, report),
    )


@router.get("/metrics", response_model=SystemMetrics)
async def metrics(platform: PlatformDep, admin: AdminDep) -> SystemMetrics:
    usage = platform.health.system()
    requests = platform.request_stats.snapshot()
    return SystemMetrics(
        cpu=Cpu(usage=usage.cpu_percent, load_average=list(usage.load_average)),
        memory=Usage(
            used=usage.memory_used_mb,
            total=usage.memory_total_mb,
            usage_percent=usage.memory_percent,
        ),
        disk=Usage(
            used=usage.disk_used_mb, total=usage.disk_total_mb, usage_percent=usage.disk_percent
        ),
        network=Network(
            bytes_sent=usage.bytes_sent,
            bytes_received=usage.bytes_received,
            packets_sent=usage.packets_sent,
            packets_received=usage.packets_received,
        ),
        requests=Requests(
            total=requests.total_requests,
            successful=requests.total_requests - requests.total_errors,
            failed=requests.total_errors,
            average_response_time=requests.avg_response_ms,
        ),
    )


Limit = Annotated[int, Query(ge=1, le=1000, description="rows to return, newest first")]


@router.get("/logs/requests", response_model=list[RequestLogOut])
async def request_logs(
    platform: PlatformDep,
    admin: AdminDep,
    limit: Limit = 100,
    start_time: Annotated[IsoTime | None, Query(description="ISO 8601: from then on")] = None,
) -> list[RequestLogOut]:
    assert platform.logbook is not None
    rows = await platform.logbook.requests(admin, limit=limit, since=start_time)
    return [
        RequestLogOut(
            timestamp=iso(row.timestamp) or "",
            method=row.method,
            path=row.path,
            status_code=row.status,
            response_time=row.response_ms,
            user_agent=row.user_agent or "",
            ip_address=row.client_address or "",
        )
        for row in rows
    ]


@router.get("/logs/errors", response_model=list[ErrorLogOut])
async def error_logs(
    platform: PlatformDep,
    admin: AdminDep,
    level: Literal["critical", "error", "warning", "info"] | None = None,
    limit: Limit = 100,
) -> list[ErrorLogOut]:
    """Warnings and worse are kept: `info` is accepted as the seed lists it, and finds none."""
    assert platform.logbook is not None
    rows = await platform.logbook.errors(admin, level=level, limit=limit)
    return [
        ErrorLogOut(
            timestamp=iso(row.timestamp) or "",
            level=row.level,
            message=row.message,
            stack_trace=row.stack_trace or "",
            component=row.component,
            request_id=row.request_id or "",
        )
        for row in rows
    ]


@router.get("/incidents", response_model=list[IncidentOut])
async def incidents(
    platform: PlatformDep,
    admin: AdminDep,
    status: Literal["open", "investigating", "resolved"] | None = None,
    severity: Literal["low", "medium", "high", "critical"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[IncidentOut]:
    found = await platform.incidents.list(admin, status=status, severity=severity, limit=limit)
    return [_incident(incident) for incident in found]


def _incident(incident: Incident) -> IncidentOut:
    return IncidentOut(
        id=incident.id,
        title=incident.title,
        status=incident.status,
        severity=incident.severity,
        created_at=iso(incident.created_at) or "",
        updated_at=iso(incident.updated_at) or "",
        description=incident.description,
        assignee=incident.assignee or "",
    )


@router.post("/incidents", status_code=201, response_model=IncidentOpened)
async def open_incident(body: IncidentIn, platform: PlatformDep, admin: AdminDep) -> IncidentOpened:
    incident = await platform.incidents.open(
        admin,
        title=body.title,
        description=body.description,
        severity=body.severity,
        assignee=body.assignee,
    )
    return IncidentOpened(id=incident.id, status=incident.status)


@router.get("/alerts", response_model=list[AlertOut])
async def alerts(platform: PlatformDep, admin: AdminDep) -> list[AlertOut]:
    """The alerts active now (the server operator's; another tenant's admin sees none)."""
    assert platform.alerts is not None
    return [_alert(alert) for alert in platform.alerts.active(admin)]


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut, responses=errors(404))
async def acknowledge_alert(alert_id: str, platform: PlatformDep, admin: AdminDep) -> AlertOut:
    """Menagerie's addition (docs/contract.md): an admin marks an active alert as seen."""
    assert platform.alerts is not None
    return _alert(platform.alerts.acknowledge(admin, alert_id))


def _alert(alert: Alert) -> AlertOut:
    return AlertOut(
        id=alert.id,
        type=alert.type,
        severity=alert.severity,
        message=alert.message,
        timestamp=iso(alert.timestamp) or "",
        component=alert.component,
        acknowledged=alert.acknowledged,
    )


@router.get(
    "/health/dashboard",
    response_model=Dashboard,
    responses={503: {"model": Dashboard, "description": "the server is unhealthy"}},
)
async def dashboard(platform: PlatformDep, admin: AdminDep, response: Response) -> Dashboard:
    """Health, the headline figures, the active alerts and the unresolved incidents."""
    assert platform.alerts is not None
    report = await platform.health.report()
    response.status_code = http_status(report)
    unresolved = [
        incident
        for incident in await platform.incidents.list(admin, limit=100)
        if incident.status != "resolved"
    ]
    return Dashboard(
        health=Overall(
            status=report.status, service="crazy-gary", timestamp=iso(report.checked_at) or ""
        ),
        metrics=DashboardMetrics(
            cpu=DashboardCpu(usage=report.resources.cpu_percent),
            memory=DashboardMemory(usage_percent=report.resources.memory_percent),
            requests=DashboardRequests(total=report.requests.total_requests),
        ),
        alerts=[
            DashboardAlert(
                id=alert.id,
                severity=alert.severity,
                message=alert.message,
                timestamp=iso(alert.timestamp) or "",
            )
            for alert in platform.alerts.active(admin)
        ],
        incidents=[_incident(incident) for incident in unresolved],
    )
