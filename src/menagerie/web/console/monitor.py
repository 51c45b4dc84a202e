"""The Monitoring page's API (admins only): the server's health and each component's, the
machine's CPU, memory and disk, the request counters, the active alerts, and the request and
error logs, paged newest first.

Everything is read from core's operations services when asked (core/ops): which rows and
alerts an admin may read is theirs to decide (another tenant's admin reads its own tenant's
requests, and no alerts or error log, which describe the whole server).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from menagerie.core.clock import iso
from menagerie.core.errors import Unavailable
from menagerie.core.ops.alerts import Alert, AlertMonitor
from menagerie.core.ops.logbook import Logbook
from menagerie.platform import Platform
from menagerie.web.console.deps import ConsoleAdminDep, PlatformDep
from menagerie.web.console.schemas.monitor import (
    AlertList,
    AlertOut,
    ComponentOut,
    ErrorPage,
    ErrorRow,
    HealthOut,
    OverviewOut,
    RequestPage,
    RequestRow,
    RequestsOut,
    SystemOut,
)

router = APIRouter(prefix="/monitor", tags=["monitor"])
PERCENTILE_WINDOW_S = 300.0
MINUTES_SHOWN = 15
StatusClass = Literal["1xx", "2xx", "3xx", "4xx", "5xx"]
Limit = Annotated[int, Query(ge=1, le=200, description="rows to return, newest first")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="rows to skip")]


def _logbook(platform: Platform) -> Logbook:
    if platform.logbook is None:
        raise Unavailable("This server keeps no request or error log.", reason="LOGBOOK_OFF")
    return platform.logbook


def _alerts(platform: Platform) -> AlertMonitor:
    if platform.alerts is None:
        raise Unavailable("This server checks no alert conditions.", reason="ALERTS_OFF")
    return platform.alerts


def _text(value: Any) -> str:
    """A detail as the page shows it: numbers and words as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return json.dumps(value, default=str, sort_keys=True)


@router.get("/health", response_model=HealthOut)
async def health(platform: PlatformDep, admin: ConsoleAdminDep) -> HealthOut:
    """Every check made now. An unhealthy server still answers 200 here: the page shows it."""
    report = await platform.health.report()
    components = [
        ComponentOut(
            name=name,
            kind="server",
            status=component.status,
            latency_ms=component.latency_ms,
            error=component.error,
            details={k: _text(v) for k, v in component.details.items() if v is not None},
        )
        for name, component in report.components.items()
    ]
    calls = platform.health.model_calls
    for provider, state in report.provider_states.items():
        if state == "not_configured":
            continue
        # a provider is judged by its calls of the rolling window, not probed
        performance = calls.performance(provider)
        components.append(
            ComponentOut(
                name=provider,
                kind="model",
                status=state,
                latency_ms=performance.avg_latency_ms,
                error=None,
                details={
                    "calls": str(performance.calls),
                    "error_rate": f"{performance.error_rate:.1%}",
                    **(
                        {"last_call": iso(performance.last_call_at) or ""}
                        if performance.last_call_at
                        else {}
                    ),
                },
            )
        )
    return HealthOut(
        status=report.status,
        checked_at=iso(report.checked_at) or "",
        version=report.version,
        uptime_s=report.uptime_s,
        components=components,
    )


@router.get("/overview", response_model=OverviewOut)
async def overview(platform: PlatformDep, admin: ConsoleAdminDep) -> OverviewOut:
    usage = platform.health.system()
    stats = platform.request_stats
    snapshot = stats.snapshot()
    p50, counted = stats.percentile_ms(0.5, PERCENTILE_WINDOW_S)
    p95, _ = stats.percentile_ms(0.95, PERCENTILE_WINDOW_S)
    p99, _ = stats.percentile_ms(0.99, PERCENTILE_WINDOW_S)
    return OverviewOut(
        system=SystemOut(
            cpu_percent=usage.cpu_percent,
            load_average=list(usage.load_average),
            memory_used_mb=usage.memory_used_mb,
            memory_total_mb=usage.memory_total_mb,
            memory_percent=usage.memory_percent,
            disk_used_mb=usage.disk_used_mb,
            disk_total_mb=usage.disk_total_mb,
            disk_percent=usage.disk_percent,
        ),
        requests=RequestsOut(
            total=snapshot.total_requests,
            errors=snapshot.total_errors,
            active=snapshot.active_requests,
            error_rate=snapshot.error_rate,
            requests_per_minute=snapshot.requests_per_minute,
            per_minute=stats.per_minute(MINUTES_SHOWN),
            avg_ms=snapshot.avg_response_ms,
            p50_ms=p50,
            p95_ms=p95,
            p99_ms=p99,
            window_requests=counted,
        ),
    )


def _alert(alert: Alert) -> AlertOut:
    return AlertOut(
        id=alert.id,
        type=alert.type,
        severity=alert.severity,
        message=alert.message,
        component=alert.component,
        timestamp=iso(alert.timestamp) or "",
        acknowledged=alert.acknowledged,
    )


@router.get("/alerts", response_model=AlertList)
async def alerts(platform: PlatformDep, admin: ConsoleAdminDep) -> AlertList:
    return AlertList(alerts=[_alert(a) for a in _alerts(platform).active(admin)])


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut)
async def acknowledge(alert_id: str, platform: PlatformDep, admin: ConsoleAdminDep) -> AlertOut:
    """Seen: the alert stays listed, marked, while its condition holds."""
    return _alert(_alerts(platform).acknowledge(admin, alert_id))


@router.get("/requests", response_model=RequestPage)
async def requests(
    platform: PlatformDep,
    admin: ConsoleAdminDep,
    status: Annotated[StatusClass | None, Query(description="a status class: 4xx …")] = None,
    path: Annotated[str | None, Query(max_length=200, description="part of the path")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> RequestPage:
    # one row more than asked says whether another page follows
    rows = await _logbook(platform).requests(
        admin,
        limit=limit + 1,
        offset=offset,
        status_class=int(status[0]) if status else None,
        path=path.strip() if path and path.strip() else None,
    )
    return RequestPage(
        requests=[
            RequestRow(
                timestamp=iso(row.timestamp) or "",
                method=row.method,
                path=row.path,
                status=row.status,
                duration_ms=row.response_ms,
                client_address=row.client_address,
                request_id=row.request_id,
            )
            for row in rows[:limit]
        ],
        offset=offset,
        has_more=len(rows) > limit,
    )


@router.get("/errors", response_model=ErrorPage)
async def errors(
    platform: PlatformDep,
    admin: ConsoleAdminDep,
    level: Literal["warning", "error", "critical"] | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ErrorPage:
    rows = await _logbook(platform).errors(admin, level=level, limit=limit + 1, offset=offset)
    return ErrorPage(
        errors=[
            ErrorRow(
                timestamp=iso(row.timestamp) or "",
                level=row.level,
                message=row.message,
                component=row.component,
                stack_trace=row.stack_trace,
                request_id=row.request_id,
            )
            for row in rows[:limit]
        ],
        offset=offset,
        has_more=len(rows) > limit,
    )
