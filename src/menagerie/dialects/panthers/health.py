"""Panthers orchestrator `GET /health` (seed 002 "Monitoring Endpoints")."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from menagerie.dialects.panthers.deps import PlatformDep
from menagerie.dialects.panthers.schemas import HealthResponse
from menagerie.http.health import http_status

router = APIRouter(tags=["monitoring"])
API_VERSION = "v1"


@router.get(
    "/health",
    response_model=HealthResponse,
    # unhealthy answers 503 with the same body, so that load balancers take the server out
    responses={503: {"model": HealthResponse, "description": "the server is unhealthy"}},
)
async def health(platform: PlatformDep) -> JSONResponse:
    report = await platform.health.report()
    body = HealthResponse(
        status="healthy" if report.healthy else "unhealthy",
        version=platform.version,
        uptime=report.uptime_s,
        # this server has no deployment service yet (issue 13): no deployment can be active,
        # and `deployments_measured` says that this 0 is not a count
        deployments_active=0,
        deployments_measured=False,
        checks={name: c.status for name, c in report.components.items()},
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=http_status(report))
