"""Crazy Gary health: `/health`, `/health/ready`, `/health/live`, `/api/monitoring/health`."""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from menagerie.core.clock import epoch_s, iso
from menagerie.http.deps import get_platform
from menagerie.http.health import http_status
from menagerie.platform import Platform

router = APIRouter(tags=["health"])
PlatformDep = Annotated[Platform, Depends(get_platform)]
API_VERSION = "1.0.0"


@router.get("/health")
async def health(platform: PlatformDep) -> JSONResponse:
    report = await platform.health.report()
    environment = platform.settings.environment
    body = {
        "status": report.status,
        "service": "crazy-gary-api",
        "version": API_VERSION,
        "server_version": report.version,
        "environment": environment,
        "railway_env": os.environ.get("RAILWAY_ENVIRONMENT", environment),
        "timestamp": epoch_s(report.checked_at),
    }
    return JSONResponse(body, status_code=http_status(report))


@router.get("/health/ready")
async def ready(platform: PlatformDep) -> JSONResponse:
    """Ready when every required setting is present and the database answers."""
    missing = platform.settings.missing_env()
    database, _ = await platform.health.check_database()
    if missing or not database.healthy:
        body: dict[str, Any] = {"status": "not ready", "missing_env_vars": missing}
        if not database.healthy:
            body["failed_checks"] = ["database"]
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/api/monitoring/health")
async def monitoring_health(platform: PlatformDep) -> JSONResponse:
    report = await platform.health.report()
    body = {
        "status": report.status,
        "service": "crazy-gary",
        "timestamp": iso(report.checked_at),
        "components": {name: c.status for name, c in report.components.items()},
    }
    return JSONResponse(body, status_code=http_status(report))
