"""Crazy Gary health: `/health`, `/health/ready`, `/health/live`, `/api/monitoring/health`."""

from __future__ import annotations

import os

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from menagerie.core.clock import epoch_s, iso
from menagerie.core.ops.health import HealthReport
from menagerie.dialects.gary.deps import PlatformDep
from menagerie.dialects.gary.schemas.health import Health, Liveness, MonitoringHealth, Readiness
from menagerie.http.health import http_status

router = APIRouter(tags=["health"])
API_VERSION = "1.0.0"


def _answer(body: Health | MonitoringHealth | Readiness, status: int) -> JSONResponse:
    # 503 carries the same documented body, so that a probe reads why
    return JSONResponse(body.model_dump(mode="json"), status_code=status)


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(platform: PlatformDep) -> JSONResponse:
    report = await platform.health.report()
    environment = platform.settings.environment
    body = Health(
        status=report.status,
        service="crazy-gary-api",
        version=API_VERSION,
        server_version=report.version,
        environment=environment,
        railway_env=os.environ.get("RAILWAY_ENVIRONMENT", environment),
        timestamp=epoch_s(report.checked_at),
    )
    return _answer(body, http_status(report))


@router.get(
    "/health/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness}},
)
async def ready(platform: PlatformDep) -> JSONResponse:
    """Ready when every required setting is present and the database answers."""
    missing = platform.settings.missing_env()
    database, _ = await platform.health.check_database()
    failed = [] if database.healthy else ["database"]
    if missing or failed:
        body = Readiness(status="not ready", missing_env_vars=missing, failed_checks=failed)
        shown = body.model_dump(exclude=None if failed else {"failed_checks"})
        return JSONResponse(shown, status_code=503)
    return JSONResponse(Readiness(status="ready").model_dump(include={"status"}))


@router.get("/health/live", response_model=Liveness)
async def live() -> Liveness:
    return Liveness(status="alive")


def _monitoring(report: HealthReport) -> MonitoringHealth:
    return MonitoringHealth(
        status=report.status,
        service="crazy-gary",
        timestamp=iso(report.checked_at),
        components={name: c.status for name, c in report.components.items()},
    )


@router.get(
    "/api/monitoring/health",
    response_model=MonitoringHealth,
    responses={503: {"model": MonitoringHealth}},
)
async def monitoring_health(platform: PlatformDep) -> JSONResponse:
    report = await platform.health.report()
    return _answer(_monitoring(report), http_status(report))
