"""MADACE `GET /api/health`: 200 when healthy, 503 when it has issues."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from menagerie.core.clock import epoch_ms
from menagerie.http.deps import get_platform
from menagerie.http.health import http_status
from menagerie.platform import Platform

router = APIRouter(prefix="/api", tags=["health"])
API_VERSION = "2.0.0-alpha"


@router.get("/health")
async def health(platform: Annotated[Platform, Depends(get_platform)]) -> JSONResponse:
    report = await platform.health.report()
    components = report.components

    def up(name: str) -> str:
        return "up" if components[name].healthy else "down"

    body = {
        "status": report.status,
        "timestamp": epoch_ms(report.checked_at),
        "services": {
            "api": "up",
            "database": up("database"),
            "sync": up("event_bus"),
            "worker": up("worker"),
            "filesystem": "healthy" if components["filesystem"].healthy else "unhealthy",
        },
        "version": API_VERSION,
        "server_version": report.version,
        "uptime": report.uptime_s,
    }
    return JSONResponse(body, status_code=http_status(report))
