"""Panthers orchestrator `GET /health` and `GET /metrics` (seed 002 "Monitoring Endpoints")."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from menagerie.core.errors import Unavailable
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
    try:
        active, measured = await platform.deployments.count_active(), True
    except Unavailable:  # the database is down (and the report says so): not counted
        active, measured = 0, False
    body = HealthResponse(
        status="healthy" if report.healthy else "unhealthy",
        version=platform.version,
        uptime=report.uptime_s,
        deployments_active=active,
        deployments_measured=measured,
        checks={name: c.status for name, c in report.components.items()},
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=http_status(report))


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus-formatted metrics (OpenMetrics when the Accept header asks)",
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "application/openmetrics-text": {"schema": {"type": "string"}},
            },
        }
    },
)
async def metrics(request: Request, platform: PlatformDep) -> Response:
    """The server's metrics, the same as its root `/metrics` (public, like `/health`: the
    labels name dialects, routes, providers and models, never a tenant, user or path id)."""
    body, content_type = platform.metrics.exposition(request.headers.get("accept"))
    return Response(body, media_type=content_type)
