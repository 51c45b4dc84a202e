"""Every health endpoint of every dialect, with the fields and shapes its seed documents,
on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import httpx
import pytest
from pydantic import SecretStr

from menagerie import __version__
from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.server import client_for

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def test_podplay_test_connection(client: httpx.AsyncClient) -> None:
    body = (await client.get("/podplay/api/test-connection")).json()
    assert body["status"] == "connected"
    assert body["message"] == "Backend connection successful"
    assert body["service"] == "podplay-sanctuary"
    assert body["backend_running"] is True
    assert body["version"] == "2.0.0"
    assert "health-monitoring" in body["features"]
    assert "mama-bear-chat" in body["features"]  # served, so claimed
    assert ISO_MS.match(body["timestamp"])


async def test_podplay_health(client: httpx.AsyncClient, settings: Settings) -> None:
    await client.get("/gary/health/live")  # a request for the counters to count
    response = await client.get("/podplay/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert ISO_MS.match(body["timestamp"])
    services = body["services"]
    assert {"mama_bear", "mcp_marketplace", "database", "model_providers"} <= set(services)
    database = services["database"]
    assert database["status"] == "healthy"
    assert database["backend"] == settings.effective_database_url.split("+")[0]
    assert re.match(r"^\d+/\d+$", database["connection_pool"])
    assert database["query_avg_time"].endswith("ms") or database["query_avg_time"].endswith("s")
    assert services["model_providers"]["offline"] == "configured"
    assert services["model_providers"]["openai"] == "not_configured"
    assert services["worker"]["status"] == "healthy"
    assert services["event_bus"]["backend"] == "in-process"
    metrics = body["metrics"]
    assert metrics["total_requests"] >= 1
    assert 0 <= metrics["error_rate"] <= 1
    assert metrics["active_connections"] >= 1  # this very request
    assert isinstance(metrics["uptime"], str)
    usage = body["resource_usage"]
    assert all(0 <= usage[k] <= 100 for k in ("cpu_percent", "memory_percent", "disk_percent"))


async def test_podplay_health_reports_configured_provider(settings: Settings) -> None:
    settings = settings.model_copy(
        update={"openai_api_key": SecretStr("sk-test-not-real-0123456789")}
    )
    async with client_for(create_app(platform=Platform.build(settings))) as client:
        body = (await client.get("/podplay/api/health")).json()
        assert body["services"]["model_providers"]["openai"] == "configured"
        assert "sk-test-not-real" not in (await client.get("/podplay/api/health")).text


@pytest.mark.parametrize("service", ["database", "worker", "event_bus", "filesystem"])
async def test_podplay_service_health(client: httpx.AsyncClient, service: str) -> None:
    response = await client.get(f"/podplay/api/health/{service}")
    assert response.status_code == 200
    body = response.json()
    assert body["service"] == service
    assert body["status"] == "healthy"
    assert isinstance(body["details"], dict)


async def test_podplay_unknown_service_is_404_listing_services(client: httpx.AsyncClient) -> None:
    response = await client.get("/podplay/api/health/warp_drive")
    assert response.status_code == 404
    body = response.json()
    assert body["error_code"] == "RESOURCE_NOT_FOUND"
    assert "database" in body["details"]["available"]


async def test_madace_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/madace/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert isinstance(body["timestamp"], int)
    assert body["timestamp"] > 1_700_000_000_000
    assert body["services"]["api"] == "up"
    assert body["services"]["database"] == "up"
    assert body["services"]["sync"] == "down"  # not started: POST /api/sync starts it
    assert body["services"]["filesystem"] == "healthy"
    assert body["version"] == "2.0.0-alpha"
    assert response.headers["x-api-version"] == "2.0.0-alpha"


async def test_panthers_health(client: httpx.AsyncClient) -> None:
    body = (await client.get("/panthers/health")).json()
    assert body["status"] == "healthy"
    assert body["version"] == __version__
    assert isinstance(body["uptime"], int | float)
    assert body["uptime"] >= 0
    assert body["deployments_active"] == 0


async def test_gary_health_endpoints(client: httpx.AsyncClient) -> None:
    health = (await client.get("/gary/health")).json()
    assert health["status"] == "healthy"
    assert health["service"] == "crazy-gary-api"
    assert health["version"] == "1.0.0"
    assert health["environment"] == "development"
    assert isinstance(health["timestamp"], float)
    assert (await client.get("/gary/health/ready")).json() == {"status": "ready"}
    assert (await client.get("/gary/health/live")).json() == {"status": "alive"}
    monitoring = (await client.get("/gary/api/monitoring/health")).json()
    assert monitoring["status"] == "healthy"
    assert monitoring["service"] == "crazy-gary"
    assert ISO_MS.match(monitoring["timestamp"])


async def test_gary_ready_lists_missing_settings(settings: Settings, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("MENAGERIE_OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("MENAGERIE_TEST_REQUIRED_VAR", raising=False)
    settings = settings.model_copy(
        update={"default_provider": "openai", "required_env": ["MENAGERIE_TEST_REQUIRED_VAR"]}
    )
    async with client_for(create_app(platform=Platform.build(settings))) as client:
        response = await client.get("/gary/health/ready")
        assert response.status_code == 503
        assert response.json() == {
            "status": "not ready",
            "missing_env_vars": ["MENAGERIE_TEST_REQUIRED_VAR", "MENAGERIE_OPENAI_API_KEY"],
        }
        monkeypatch.setenv("MENAGERIE_TEST_REQUIRED_VAR", "1")
        response = await client.get("/gary/health/ready")
        assert response.json()["missing_env_vars"] == ["MENAGERIE_OPENAI_API_KEY"]
