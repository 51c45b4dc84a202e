"""PodPlay model management: the catalogue, routing a message, and usage (`/api/models…`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from menagerie.core.identity.models import Principal
from menagerie.core.llm.router import RoutedCompletion
from menagerie.dialects.podplay.health import PROVIDER_NAMES
from menagerie.http.deps import get_platform, require_principal
from menagerie.platform import Platform

router = APIRouter(prefix="/api/models", tags=["models"])
PlatformDep = Annotated[Platform, Depends(get_platform)]
PrincipalDep = Annotated[Principal, Depends(require_principal)]

# PodPlay names providers by vendor ("google"), Menagerie by API ("gemini").
VENDOR_NAMES = {"gemini": "google"}
# attachment types imply the capability needed to read them
ATTACHMENT_CAPABILITIES = {"image": "images", "audio": "audio", "video": "video"}


def seconds(value: float) -> str:
    return f"{value:.1f}s"


class Attachment(BaseModel):
    type: str = Field(min_length=1, max_length=32)
    url: str | None = Field(None, max_length=4096)
    mime_type: str | None = Field(None, max_length=255)


class UserPreferences(BaseModel):
    cost_preference: Literal["low", "economy", "cheap", "balanced", "premium"] = "balanced"
    speed_preference: Literal["fast", "balanced", "thorough", "quality"] = "balanced"


class RouteBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: str = Field(min_length=1, max_length=100_000)
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)
    capabilities_required: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=32
    )
    user_preferences: UserPreferences = Field(default_factory=UserPreferences)
    context: dict[str, Any] = Field(default_factory=dict)


@router.get("")
async def list_models(platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    statuses = await platform.llm.models(principal.tenant_id)
    preferences = platform.llm.routing_preferences()
    return {
        "success": True,
        "models": [
            {
                "model_id": s.model.model_id,
                "provider": VENDOR_NAMES.get(s.model.provider, s.model.provider),
                "display_name": s.model.display_name,
                "description": s.model.description,
                "capabilities": sorted(s.model.capabilities),
                "max_tokens": s.model.context_window,
                "max_output_tokens": s.model.max_output_tokens,
                "cost_per_1k_tokens": s.model.cost_per_1k_tokens,
                "availability": s.availability,
                "quota_remaining": s.quota_remaining,
                "performance_tier": s.model.performance_tier,
                "response_time_avg": seconds(s.model.typical_latency_s),
            }
            for s in statuses
        ],
        "routing_preferences": {
            "primary": preferences.primary,
            "fallback": preferences.fallback,
            "cost_optimization": preferences.cost_optimization,
        },
    }


@router.post("/route")
async def route(body: RouteBody, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
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
    return {
        "success": True,
        "model_selected": completion.model_id,
        "selection_reason": selection.reason + _fallback_note(completion),
        "response": completion.text,
        # how much of what was asked for the chosen model covers
        "confidence_score": round(covered / len(wanted), 2) if wanted else 1.0,
        "processing_time": seconds(completion.latency_s),
        "tokens_used": completion.usage.total_tokens,
        "cost": completion.cost,
        "alternative_models": [
            {
                "model": alt.model.model_id,
                "estimated_cost": alt.estimated_cost,
                "estimated_time": seconds(alt.estimated_time_s),
            }
            for alt in selection.alternatives
        ],
    }


@router.get("/usage")
async def usage(
    platform: PlatformDep,
    principal: PrincipalDep,
    period: Annotated[Literal["day", "week", "month"], Query()] = "day",
    model: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    report = await platform.llm.usage(principal.tenant_id, period, model)
    return {
        "success": True,
        "period": period,
        "usage_stats": [
            {
                "model": row.model,
                "provider": VENDOR_NAMES.get(row.provider, row.provider),
                "requests": row.requests,
                "total_tokens": row.total_tokens,
                "total_cost": round(row.total_cost, 6),
                "avg_response_time": seconds(row.avg_latency_ms / 1000),
                "error_rate": round(row.error_rate, 4),
            }
            for row in report.summary.models
        ],
        "total_cost": round(report.summary.total_cost, 6),
        "total_requests": report.summary.total_requests,
        "cost_savings": report.cost_savings,
        "quota_usage": {
            _quota_name(q.provider): {
                "used": q.used,
                "limit": q.limit,
                "percentage": q.percentage,
            }
            for q in report.quotas
        },
    }


def _fallback_note(completion: RoutedCompletion) -> str:
    if not completion.fallback_from:
        return ""
    failed = ", ".join(completion.fallback_from)
    return f"; answered by {completion.model_id} after {failed} failed"


def _quota_name(provider: str) -> str:
    name = PROVIDER_NAMES.get(provider, provider)
    return name if name.endswith("_api") else f"{name}_api"
