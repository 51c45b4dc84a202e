"""Every request example of seed 000's chat, model and health sections, sent to a real
server; each answer held to the seed's response example, field by field."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.dialects.podplay.replay import assert_like, example
from tests.utils.http import bearer
from tests.utils.server import client_for

USER = "nathan_sanctuary"  # the seed's user
# documented stand-ins (docs/contract.md, "PodPlay"): nothing measured yet on a fresh server
UNMEASURED = {"services.mcp_marketplace.last_sync"}


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    platform = Platform.build(
        settings.model_copy(
            update={
                "offline_token_delay_ms": 0,
                "rate_limits_enabled": False,
                "llm_quotas": {"offline": 1_000_000},
            }
        )
    )
    async with client_for(create_app(platform=platform)) as client:
        client.base_url = client.base_url.join("/podplay")
        client.headers.update(bearer(settings.master_key.get_secret_value()))
        yield client


async def test_chat_history_and_delete(api: httpx.AsyncClient) -> None:
    request = example("POST", "/api/chat/mama-bear", "request")
    answer = await api.post("/api/chat/mama-bear", json=request)
    assert answer.status_code == 200, answer.text
    assert_like(example("POST", "/api/chat/mama-bear"), answer.json())
    assert answer.json()["session_id"] == request["session_id"]

    history = await api.get("/api/chat/history", params={"user_id": request["user_id"]})
    assert history.status_code == 200
    assert_like(example("GET", "/api/chat/history"), history.json())
    assert history.json()["messages"][0]["user_message"] == request["message"]

    deleted = await api.delete(f"/api/chat/history/{request['session_id']}")
    assert deleted.status_code == 200
    assert deleted.json() == example("DELETE", "/api/chat/history/{session_id}")


async def test_chat_error_example(api: httpx.AsyncClient) -> None:
    request = {**example("POST", "/api/chat/mama-bear", "request"), "message": ""}
    refused = await api.post("/api/chat/mama-bear", json=request)
    assert refused.status_code == 422
    shown = example("POST", "/api/chat/mama-bear", "error")
    assert_like(shown, refused.json())
    assert refused.json()["error_code"] == shown["error_code"]
    assert refused.json()["message_id"] is None


async def test_store_memory_and_memories(api: httpx.AsyncClient) -> None:
    request = example("POST", "/api/chat/store-memory", "request")
    stored = await api.post("/api/chat/store-memory", json=request)
    assert stored.status_code == 200, stored.text
    assert_like(example("POST", "/api/chat/store-memory"), stored.json())

    found = await api.get(
        "/api/chat/memories", params={"user_id": USER, "category": "preferences", "search": "React"}
    )
    assert found.status_code == 200
    body = found.json()
    assert body["memories"], body
    assert_like(example("GET", "/api/chat/memories"), body)
    assert body["memories"][0]["metadata"] == request["metadata"]


async def test_models_route_and_usage(api: httpx.AsyncClient) -> None:
    listed = await api.get("/api/models")
    assert listed.status_code == 200
    assert_like(example("GET", "/api/models"), listed.json())

    routed = await api.post(
        "/api/models/route", json=example("POST", "/api/models/route", "request")
    )
    assert routed.status_code == 200, routed.text
    assert_like(example("POST", "/api/models/route"), routed.json())

    usage = await api.get("/api/models/usage", params={"period": "day"})
    assert usage.status_code == 200
    body = usage.json()
    assert body["usage_stats"], body
    assert_like(example("GET", "/api/models/usage"), body, keyed={"quota_usage"})


async def test_health_examples(api: httpx.AsyncClient) -> None:
    await api.post("/api/chat/mama-bear", json={"message": "hi", "user_id": USER})
    connection = await api.get("/api/test-connection")
    assert_like(example("GET", "/api/test-connection"), connection.json())

    health = await api.get("/api/health")
    assert health.status_code == 200
    assert_like(
        example("GET", "/api/health"),
        health.json(),
        nullable=UNMEASURED,
        keyed={"services.model_providers"},
    )

    service = await api.get("/api/health/mama_bear")
    assert service.status_code == 200
    shown = example("GET", "/api/health/{service_name}")
    assert_like(shown, service.json())
    assert service.json()["service"] == shown["service"]
    assert service.json()["status"] == shown["status"]
