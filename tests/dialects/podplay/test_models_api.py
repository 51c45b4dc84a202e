"""PodPlay's model management API: catalogue, routing, usage and quotas, as seed 000 shows."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.server import client_for

MODEL_FIELDS = {
    "model_id",
    "provider",
    "display_name",
    "description",
    "capabilities",
    "max_tokens",
    "cost_per_1k_tokens",
    "availability",
    "quota_remaining",
    "performance_tier",
    "response_time_avg",
}


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    platform = Platform.build(
        settings.model_copy(update={"offline_token_delay_ms": 0, "llm_quotas": {"offline": 300}})
    )
    async with client_for(create_app(platform=platform)) as client:
        client.headers["Authorization"] = f"Bearer {settings.master_key.get_secret_value()}"
        yield client


async def test_models_lists_catalogue_with_availability(api: httpx.AsyncClient) -> None:
    body = (await api.get("/podplay/api/models")).json()
    assert body["success"] is True
    models = {m["model_id"]: m for m in body["models"]}
    for model in models.values():
        assert set(model) >= MODEL_FIELDS
    offline = models["menagerie-offline"]
    assert offline["availability"] == "available"
    assert offline["quota_remaining"] == 300
    assert models["gpt-4o"]["availability"] == "unavailable"  # no key configured
    assert models["gemini-2.0-flash"]["provider"] == "google"
    assert models["gpt-4o"]["response_time_avg"].endswith("s")
    assert body["routing_preferences"] == {
        "primary": "menagerie-offline",
        "fallback": [],
        "cost_optimization": True,
    }


async def test_route_answers_with_the_selected_model(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/podplay/api/models/route",
        json={
            "message": "Write a haiku about tea",
            "capabilities_required": ["code"],
            "user_preferences": {"cost_preference": "balanced", "speed_preference": "fast"},
            "context": {"conversation_id": "conv_123", "user_expertise": "intermediate"},
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["model_selected"] == "menagerie-offline"
    assert "Write a haiku about tea" in body["response"]
    assert body["tokens_used"] > 0
    assert body["cost"] == 0.0
    assert body["confidence_score"] == 1.0
    assert body["processing_time"].endswith("s")
    assert isinstance(body["alternative_models"], list)
    assert body["selection_reason"]


async def test_route_says_which_capabilities_no_model_has(api: httpx.AsyncClient) -> None:
    body = (
        await api.post(
            "/podplay/api/models/route",
            json={
                "message": "Analyze this image",
                "attachments": [{"type": "image", "url": "https://example.com/a.jpg"}],
                "capabilities_required": ["analysis"],
            },
        )
    ).json()
    assert "images" in body["selection_reason"]
    assert "reasoning" in body["selection_reason"]
    assert body["confidence_score"] == 0.0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "message"),
        ({"message": ""}, "message"),
        ({"message": "x", "user_preferences": {"cost_preference": "free"}}, "cost_preference"),
        ({"message": "x", "capabilities_required": "vision"}, "capabilities_required"),
    ],
)
async def test_route_validation_names_the_field(
    api: httpx.AsyncClient, payload: dict[str, object], field: str
) -> None:
    response = await api.post("/podplay/api/models/route", json=payload)
    assert response.status_code == 422
    body = response.json()
    assert body["success"] is False
    assert body["error_code"] == "INVALID_INPUT"
    assert field in body["details"]["field"]


async def test_usage_totals_and_quota(api: httpx.AsyncClient) -> None:
    for _ in range(2):
        await api.post("/podplay/api/models/route", json={"message": "hello"})
    body = (await api.get("/podplay/api/models/usage", params={"period": "week"})).json()
    assert body["success"] is True
    assert body["period"] == "week"
    [row] = body["usage_stats"]
    assert row["model"] == "menagerie-offline"
    assert row["requests"] == 2
    assert row["error_rate"] == 0.0
    assert row["total_tokens"] > 0
    assert body["total_requests"] == 2
    assert body["total_cost"] == 0.0
    assert body["cost_savings"] == 0.0  # only the free model can be called
    quota = body["quota_usage"]["offline_api"]
    assert quota["limit"] == 300
    assert quota["used"] == row["total_tokens"]
    assert quota["percentage"] == round(100 * quota["used"] / 300, 2)
    filtered = (await api.get("/podplay/api/models/usage", params={"model": "gpt-4o"})).json()
    assert filtered["usage_stats"] == []
    assert filtered["total_requests"] == 0
    bad = await api.get("/podplay/api/models/usage", params={"period": "year"})
    assert bad.status_code == 422
    assert bad.json()["details"]["field"] == "period"


async def test_over_quota_is_insufficient_quota_429(api: httpx.AsyncClient) -> None:
    status = 200
    for _ in range(20):
        response = await api.post("/podplay/api/models/route", json={"message": "hello " * 40})
        status = response.status_code
        if status != 200:
            break
    assert status == 429
    body = response.json()
    assert body["error_code"] == "INSUFFICIENT_QUOTA"
    assert body["details"]["limit"] == 300


async def test_models_need_credentials(api: httpx.AsyncClient) -> None:
    del api.headers["Authorization"]
    response = await api.get("/podplay/api/models")
    assert response.status_code == 401
    assert response.json()["error_code"] == "AUTHENTICATION_REQUIRED"


async def test_health_reports_the_model_router(api: httpx.AsyncClient) -> None:
    body = (await api.get("/podplay/api/health/model_router")).json()
    assert body["status"] == "healthy"
    assert body["details"]["primary_model"] == "menagerie-offline"
    assert body["details"]["models_available"] == 1
    assert body["details"]["providers_failing"] == []


async def test_a_second_tenant_sees_none_of_the_first_tenants_usage(settings: Settings) -> None:
    platform = Platform.build(settings.model_copy(update={"offline_token_delay_ms": 0}))
    async with client_for(create_app(platform=platform)) as api:
        ours = {"Authorization": f"Bearer {settings.master_key.get_secret_value()}"}
        routed = await api.post("/podplay/api/models/route", json={"message": "hi"}, headers=ours)
        assert routed.status_code == 200
        issued = await platform.api_tokens.issue_for_tenant("acme", "acme admin")
        acme = {"Authorization": f"Bearer {issued.token}"}

        theirs = (await api.get("/podplay/api/models/usage", headers=acme)).json()
        assert theirs["usage_stats"] == []
        assert theirs["total_requests"] == 0
        mine = (await api.get("/podplay/api/models/usage", headers=ours)).json()
        assert mine["total_requests"] == 1
