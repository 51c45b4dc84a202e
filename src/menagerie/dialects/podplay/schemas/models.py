"""Seed 000 "Model Management API": the catalogue, routing a message, usage."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ModelEntry(BaseModel):
    model_id: str
    provider: str
    display_name: str
    description: str
    capabilities: list[str]
    max_tokens: int
    max_output_tokens: int
    cost_per_1k_tokens: float
    availability: str  # available | degraded | unavailable
    quota_remaining: int  # tokens left this month; -1: no quota set (docs/contract.md)
    performance_tier: str
    response_time_avg: str


class RoutingPreferences(BaseModel):
    primary: str
    fallback: list[str]
    cost_optimization: bool


class ModelList(BaseModel):
    success: Literal[True] = True
    models: list[ModelEntry]
    routing_preferences: RoutingPreferences


class Attachment(BaseModel):
    type: str = Field(min_length=1, max_length=32)
    url: str | None = Field(None, max_length=4096)
    mime_type: str | None = Field(None, max_length=255)


class UserPreferences(BaseModel):
    cost_preference: Literal["low", "economy", "cheap", "balanced", "premium"] = "balanced"
    speed_preference: Literal["fast", "balanced", "thorough", "quality"] = "balanced"


class RouteIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: str = Field(min_length=1, max_length=100_000)
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)
    capabilities_required: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=32
    )
    user_preferences: UserPreferences = Field(default_factory=UserPreferences)
    context: dict[str, Any] = Field(default_factory=dict)


class AlternativeModel(BaseModel):
    model: str
    estimated_cost: float
    estimated_time: str


class RouteAnswer(BaseModel):
    success: Literal[True] = True
    model_selected: str
    selection_reason: str
    response: str
    # the share of the required capabilities the chosen model covers (1.0 when none asked)
    confidence_score: float
    processing_time: str
    tokens_used: int
    cost: float
    alternative_models: list[AlternativeModel]


class UsageRow(BaseModel):
    model: str
    provider: str
    requests: int
    total_tokens: int
    total_cost: float
    avg_response_time: str
    error_rate: float


class QuotaUse(BaseModel):
    used: int
    limit: int
    percentage: float


class Usage(BaseModel):
    success: Literal[True] = True
    period: str
    usage_stats: list[UsageRow]
    total_cost: float
    total_requests: int
    cost_savings: float
    quota_usage: dict[str, QuotaUse]
