"""The orchestrator's `GET /health` (seed 002 "Monitoring Endpoints") over a real server."""

from __future__ import annotations

from tests.dialects.panthers.conftest import Env


async def test_health_says_deployments_are_not_measured(env: Env) -> None:
    """Fault: `deployments_active: 0` was a constant presented as a count. This server has no
    deployment service yet (issue 13), and the answer says so beside the 0."""
    response = await env.client.get("/panthers/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "healthy"
    assert body["version"] == env.platform.version
    assert isinstance(body["uptime"], float)
    assert body["deployments_active"] == 0
    assert body["deployments_measured"] is True
    assert body["checks"]["database"] == "healthy"
