"""MADACE `GET /api/health`: 200 when healthy, 503 when it has issues.

Each service's state comes from the check the health service makes when asked; a service
this installation does not have says `n/a`, the seed's own word for its absent database.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from menagerie.core.clock import epoch_ms
from menagerie.core.ops.health import ComponentHealth, HealthReport
from menagerie.dialects.madace.deps import PlatformDep
from menagerie.dialects.madace.schemas.health import Health, Services, ServiceState
from menagerie.http.health import http_status

router = APIRouter(prefix="/api", tags=["health"])
API_VERSION = "2.0.0-alpha"
# what every route but this one needs: without either, the API cannot answer
API_NEEDS = ("database", "filesystem")


def _state(component: ComponentHealth) -> ServiceState:
    return "up" if component.healthy else "down"


def health_of(report: HealthReport, *, sync_running: bool) -> Health:
    components = report.components
    api_up = all(components[name].healthy for name in API_NEEDS)
    return Health(
        status=report.status,
        timestamp=epoch_ms(report.checked_at),
        services=Services(
            api="up" if api_up else "down",
            database=_state(components["database"]),
            # the WebSocket sync service runs once `POST /api/sync` starts it
            sync="up" if sync_running else "down",
            filesystem="healthy" if components["filesystem"].healthy else "unhealthy",
            event_bus=_state(components["event_bus"]),
            worker=_state(components["worker"]),
        ),
        version=API_VERSION,
        server_version=report.version,
        uptime=report.uptime_s,
    )


@router.get(
    "/health",
    response_model=Health,
    # a 503 here is still a health report, not an error envelope
    responses={503: {"model": Health, "description": "The system has issues"}},
)
async def health(platform: PlatformDep) -> JSONResponse:
    report = await platform.health.report()
    body = health_of(report, sync_running=platform.sync.running).model_dump(mode="json")
    return JSONResponse(body, status_code=http_status(report))
