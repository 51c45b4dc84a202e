"""Panthers orchestrator `GET /health`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from menagerie.http.deps import get_platform
from menagerie.http.health import http_status
from menagerie.platform import Platform

router = APIRouter(tags=["monitoring"])
API_VERSION = "v1"


@router.get("/health")
async def health(platform: Annotated[Platform, Depends(get_platform)]) -> JSONResponse:
    report = await platform.health.report()
    body = {
        "status": "healthy" if report.healthy else "unhealthy",
        "version": platform.version,
        "uptime": report.uptime_s,
        # agent deployments arrive with the deployments domain; until then none can be active
        "deployments_active": 0,
        "checks": {name: c.status for name, c in report.components.items()},
    }
    return JSONResponse(body, status_code=http_status(report))
