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
    """`{"status": "ready"}`, or `not ready` with the settings missing and, when a check
    failed, which (`failed_checks`, left out otherwise)."""

    status: str  # "ready" | "not ready"
    missing_env_vars: list[str] = Field(default_factory=list)
    failed_checks: list[str] = Field(default_factory=list)  # e.g. ["database"]


class Liveness(BaseModel):
    status: str


class MonitoringHealth(BaseModel):
    status: str
    service: str
    timestamp: str
    components: dict[str, str] = Field(default_factory=dict)  # component -> its status
