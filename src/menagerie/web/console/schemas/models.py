"""The models page: the catalogue with each model's availability, the tenant's usage in time
buckets, its quotas per provider, and the managed model endpoints."""

from __future__ import annotations

from typing import Literal

from menagerie.web.console.schemas.common import Wire


class ModelOut(Wire):
    id: str
    provider: str
    name: str
    description: str
    capabilities: list[str]
    context_window: int
    max_output_tokens: int
    input_per_million: float  # US dollars per million input tokens
    output_per_million: float
    tier: str
    availability: Literal["available", "degraded", "unavailable"]
    reason: str | None  # why it cannot be called (or only after a wait), a sentence
    quota_remaining: int | None  # tokens left this month; None: no quota


class ModelList(Wire):
    models: list[ModelOut]
    providers: list[str]


class UsageBucketOut(Wire):
    start: str  # UTC, ISO 8601: the hour or day the bucket holds
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    tokens: int
    cost: float  # US dollars


class UsageSeriesOut(Wire):
    period: Literal["day", "week", "month"]
    step: Literal["hour", "day"]
    buckets: list[UsageBucketOut]  # oldest first, every bucket present
    total_requests: int
    total_tokens: int
    total_cost: float


class QuotaOut(Wire):
    provider: str
    used: int
    limit: int
    remaining: int
    percentage: float
    reset_at: str


class QuotaList(Wire):
    quotas: list[QuotaOut]


class EndpointOut(Wire):
    name: str
    kind: str
    model: str
    status: Literal["running", "sleeping", "starting", "stopping", "failed"]
    last_activity: str | None
    auto_sleep_in: float | None  # seconds before the idle sleep, while running
    error: str | None


class EndpointList(Wire):
    endpoints: list[EndpointOut]
    can_manage: bool  # the caller may wake and sleep them (an admin)
