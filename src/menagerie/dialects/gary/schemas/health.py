"""Seed 004 "Health Check Endpoints" and `/api/monitoring/health`."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: str  # healthy | degraded | unhealthy
    service: str
    version: str  # the API's version, as the seed shows it
    server_version: str  # Menagerie's own
    environment: str
    railway_env: str
    timestamp: float  # epoch seconds, as the seed shows it


class Readiness(BaseModel):
    """`{"status": "ready"}`, or `not ready` with what is missing (absent fields are left out)."""

    status: str  # "ready" | "not ready"
    missing_env_vars: list[str] | None = None
    failed_checks: list[str] | None = None  # e.g. ["database"], only when a check failed


class Liveness(BaseModel):
    status: str


class MonitoringHealth(BaseModel):
    status: str
    service: str
    timestamp: str
    components: dict[str, str] = Field(default_factory=dict)  # component -> its status
