"""PodPlay health beyond the seed's examples: provider health read now (not at boot), MCP
counts scoped to the caller, and every documented field a real value or a stated stand-in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from menagerie.app import create_app
from menagerie.core.ids import new_id
from menagerie.core.llm.usage import UsageRecord
from menagerie.core.tools.tables import McpInstallationRow
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.http import bearer
from tests.utils.server import client_for

PASSWORD = "Correct-Horse-9-Battery"
SECONDS = re.compile(r"^\d+(\.\d+)?m?s$")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def platform(settings: Settings) -> Platform:
    return Platform.build(
        settings.model_copy(
            update={
                "offline_token_delay_ms": 0,
                "rate_limits_enabled": False,
                "openai_api_key": SecretStr("sk-test-not-real-0123456789"),
            }
        )
    )


@pytest.fixture
async def api(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(platform=platform)) as client:
        client.base_url = client.base_url.join("/podplay")
        yield client


def admin(settings: Settings) -> dict[str, str]:
    return bearer(settings.master_key.get_secret_value())


async def test_mama_bear_reports_response_time_and_router(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    fresh = (await api.get("/api/health")).json()["services"]["mama_bear"]
    assert fresh["model_router"] == "operational"
    assert fresh["response_time"] is None  # no model call yet: said, not made up
    chat = await api.post(
        "/api/chat/mama-bear",
        json={"message": "hi", "model_preference": "menagerie-offline"},
        headers=admin(settings),
    )
    assert chat.status_code == 200
    mama_bear = (await api.get("/api/health")).json()["services"]["mama_bear"]
    assert SECONDS.match(mama_bear["response_time"]), mama_bear
    assert mama_bear["memory_available"] is True
    assert mama_bear["agent_ready"] is True

    details = (await api.get("/api/health/mama_bear")).json()["details"]
    assert details["agent_ready"] is True
    assert details["memory_service"] == "connected"
    assert details["model_router"] == "operational"
    assert ISO.match(details["last_request"]), details
    performance = details["performance"]
    assert SECONDS.match(performance["avg_response_time"])
    assert performance["requests_per_minute"] >= 1
    assert performance["error_rate"] == 0.0


async def test_provider_health_is_read_now(api: httpx.AsyncClient, platform: Platform) -> None:
    def providers() -> dict[str, str]:
        return platform_health["services"]["model_providers"]

    platform_health = (await api.get("/api/health")).json()
    assert providers()["openai"] == "configured"  # set up, no call seen yet
    assert providers()["anthropic"] == "not_configured"

    def call(outcome: str) -> None:
        platform.llm.ledger.record(
            UsageRecord("default", None, "gpt-4o-mini", "openai", 1, 1, 0.0, 12.0, outcome)
        )

    call("error")
    platform_health = (await api.get("/api/health")).json()
    assert providers()["openai"] == "degraded"
    call("ok")
    platform_health = (await api.get("/api/health")).json()
    assert providers()["openai"] == "healthy"
    breaker = platform.llm.router.breakers["openai"]
    for _ in range(breaker.failure_threshold):
        breaker.record_failure()
    platform_health = (await api.get("/api/health")).json()
    assert providers()["openai"] == "unhealthy"
    assert platform_health["services"]["model_router"]["providers_failing"] == ["openai"]
    assert platform_health["services"]["mama_bear"]["model_router"] == "degraded"
    service = (await api.get("/api/health/model_providers")).json()
    assert service["status"] == "degraded"  # offline still answers
    assert service["details"]["providers"]["openai"] == "unhealthy"


async def _install(platform: Platform, tenant: str, name: str) -> None:
    async with platform.database.session() as session:
        session.add(
            McpInstallationRow(
                id=new_id("inst"),
                tenant_id=tenant,
                server_name=name,
                configuration_sealed=platform.secrets.seal_json({}),
                auto_start=False,
                status="stopped",
            )
        )


async def test_mcp_counts_are_the_callers_own(
    api: httpx.AsyncClient, platform: Platform, settings: Settings
) -> None:
    await platform.api_tokens.issue_for_tenant("acme", "acme admin")
    await _install(platform, "acme", "github-mcp")
    await _install(platform, "acme", "docker-mcp")
    await _install(platform, settings.default_tenant, "github-mcp")
    await platform.accounts.register("user@example.com", PASSWORD, "Pod User")
    login = await api.post(
        "/api/auth/login", json={"email": "user@example.com", "password": PASSWORD}
    )
    cookie = {"Cookie": f"session={login.cookies['session']}"}
    api.cookies.clear()

    def marketplace(body: httpx.Response) -> dict[str, object]:
        assert body.status_code == 200, body.text
        return body.json()["services"]["mcp_marketplace"]

    anonymous = marketplace(await api.get("/api/health"))
    assert anonymous["scope"] == "anonymous"
    assert anonymous["servers_total"] == -1  # not disclosed
    assert anonymous["servers_online"] == -1
    user = marketplace(await api.get("/api/health", headers=cookie))
    assert user["scope"] == "tenant"
    assert user["servers_total"] == 1
    assert user["servers_online"] == 0
    operator = marketplace(await api.get("/api/health", headers=admin(settings)))
    assert operator["scope"] == "server"
    assert operator["servers_total"] == 3
    detail = (await api.get("/api/health/mcp_marketplace")).json()
    assert detail["details"]["servers_total"] == -1
