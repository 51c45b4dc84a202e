"""PodPlay model management: the catalogue, routing a message, and usage (`/api/models…`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from menagerie.core.llm.router import RoutedCompletion
from menagerie.dialects.podplay.deps import PlatformDep, PrincipalDep
from menagerie.dialects.podplay.health import PROVIDER_NAMES
from menagerie.dialects.podplay.schemas.models import (
    AlternativeModel,
    ModelEntry,
    ModelList,
    QuotaUse,
    RouteAnswer,
    RouteIn,
    RoutingPreferences,
    Usage,
    UsageRow,
)
from menagerie.http.openapi import errors

router = APIRouter(prefix="/api/models", tags=["models"])

# PodPlay names providers by vendor ("google"), Menagerie by API ("gemini").
VENDOR_NAMES = {"gemini": "google"}
# attachment types imply the capability needed to read them
ATTACHMENT_CAPABILITIES = {"image": "images", "audio": "audio", "video": "video"}
NO_QUOTA = -1  # quota_remaining of a provider with no quota set


def seconds(value: float) -> str:
    return f"{value:.1f}s"


@router.get("", response_model=ModelList)
async def list_models(platform: PlatformDep, principal: PrincipalDep) -> ModelList:
    statuses = await platform.llm.models(principal.tenant_id)
    preferences = platform.llm.routing_preferences()
    return ModelList(
        models=[
            ModelEntry(
                model_id=s.model.model_id,
                provider=VENDOR_NAMES.get(s.model.provider, s.model.provider),
                display_name=s.model.display_name,
                description=s.model.description,
                capabilities=sorted(s.model.capabilities),
                max_tokens=s.model.context_window,
                max_output_tokens=s.model.max_output_tokens,
                cost_per_1k_tokens=s.model.cost_per_1k_tokens,
                availability=s.availability,
                quota_remaining=NO_QUOTA if s.quota_remaining is None else s.quota_remaining,
                performance_tier=s.model.performance_tier,
                response_time_avg=seconds(s.model.typical_latency_s),
            )
            for s in statuses
        ],
        routing_preferences=RoutingPreferences(
            primary=preferences.primary,
            fallback=preferences.fallback,
            cost_optimization=preferences.cost_optimization,
        ),
    )


@router.post("/route", response_model=RouteAnswer, responses=errors(404, 502, 503))
async def route(body: RouteIn, platform: PlatformDep, principal: PrincipalDep) -> RouteAnswer:
    capabilities = list(body.capabilities_required)
    for attachment in body.attachments:
        implied = ATTACHMENT_CAPABILITIES.get(attachment.type.lower())
        if implied and implied not in capabilities:
            capabilities.append(implied)
    outcome = await platform.llm.route(
        body.message,
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        capabilities=capabilities,
        cost_preference=body.user_preferences.cost_preference,
        speed_preference=body.user_preferences.speed_preference,
    )
    selection, completion = outcome.selection, outcome.completion
    wanted = {c.lower() for c in capabilities}
    covered = len(wanted) - len(selection.missing_capabilities)
    return RouteAnswer(
        model_selected=completion.model_id,
        selection_reason=selection.reason + _fallback_note(completion),
        response=completion.text,
        # how much of what was asked for the chosen model covers
        confidence_score=round(covered / len(wanted), 2) if wanted else 1.0,
        processing_time=seconds(completion.latency_s),
        tokens_used=completion.usage.total_tokens,
        cost=completion.cost,
        alternative_models=[
            AlternativeModel(
                model=alt.model.model_id,
                estimated_cost=alt.estimated_cost,
                estimated_time=seconds(alt.estimated_time_s),
            )
            for alt in selection.alternatives
        ],
    )


@router.get("/usage", response_model=Usage)
async def usage(
    platform: PlatformDep,
    principal: PrincipalDep,
    period: Annotated[Literal["day", "week", "month"], Query()] = "day",
    model: Annotated[str | None, Query(max_length=200)] = None,
) -> Usage:
    report = await platform.llm.usage(principal.tenant_id, period, model)
    return Usage(
        period=period,
        usage_stats=[
            UsageRow(
                model=row.model,
                provider=VENDOR_NAMES.get(row.provider, row.provider),
                requests=row.requests,
                total_tokens=row.total_tokens,
                total_cost=round(row.total_cost, 6),
                avg_response_time=seconds(row.avg_latency_ms / 1000),
                error_rate=round(row.error_rate, 4),
            )
            for row in report.summary.models
        ],
        total_cost=round(report.summary.total_cost, 6),
        total_requests=report.summary.total_requests,
        cost_savings=report.cost_savings,
        quota_usage={
            _quota_name(q.provider): QuotaUse(used=q.used, limit=q.limit, percentage=q.percentage)
            for q in report.quotas
        },
    )


def _fallback_note(completion: RoutedCompletion) -> str:
    if not completion.fallback_from:
        return ""
    failed = ", ".join(completion.fallback_from)
    return f"; answered by {completion.model_id} after {failed} failed"


def _quota_name(provider: str) -> str:
    name = PROVIDER_NAMES.get(provider, provider)
    return name if name.endswith("_api") else f"{name}_api"
