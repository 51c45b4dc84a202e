"""Crazy Gary `/api/monitoring/health/detailed` and `/api/monitoring/metrics` (seed 004).

Both are operator data (the machine, every provider's health), so both need an admin of the
tenant. Every figure is read when asked: the database's and the event bus's round trip, each
model provider's state and its calls of the rolling window, psutil's CPU, memory, disk and
network counters, and the server's request counters.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from menagerie.core.clock import iso
from menagerie.core.ops.health import HealthReport
from menagerie.dialects.gary.deps import AdminDep, PlatformDep
from menagerie.dialects.gary.schemas.monitoring import (
    Component,
    Cpu,
    DetailedHealth,
    Network,
    Overall,
    ProviderComponent,
    Requests,
    SystemMetrics,
    Usage,
)
from menagerie.http.health import http_status
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
