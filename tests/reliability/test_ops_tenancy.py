"""Operational data as a second tenant sees it: every monitoring and observability route of
Crazy Gary, called by another tenant's admin, shows nothing of the operator's tenant: none of
its request paths, ids, incident titles, error messages or alerts."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi.routing import APIRoute

from menagerie.app import create_app
from menagerie.core.ops.alerts import Thresholds
from menagerie.dialects.registry import DIALECTS
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.http import bearer
from tests.utils.principals import admin
from tests.utils.server import client_for

MARKER = "zqx-operator-only-7731"
# streams never end: the event stream's tenancy is tested beside it (test_observability)
STREAMS = {"/api/observability/events/stream"}


def ops_routes() -> list[str]:
    spec = DIALECTS["gary"]
    paths = []
    for router in spec.routers:
        for route in router.routes:
            if (
                isinstance(route, APIRoute)
                and "GET" in route.methods
                and route.path.startswith(("/api/monitoring", "/api/observability"))
                and "{" not in route.path
                and route.path not in STREAMS
            ):
                paths.append(route.path)
    return sorted(paths)


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Platform]]:
    platform = Platform.build(settings.model_copy(update={"rate_limits_enabled": False}))
    async with client_for(create_app(platform=platform)) as client:
        client.base_url = client.base_url.join("/gary")
        yield client, platform


async def test_another_tenants_admin_sees_nothing_of_the_operators(
    served: tuple[httpx.AsyncClient, Platform],
) -> None:
    client, platform = served
    operator = admin(platform)
    assert platform.bootstrap_result is not None
    assert platform.bootstrap_result.admin_token is not None
    mine = bearer(platform.bootstrap_result.admin_token.token)

    # the operator's traces in every log and store: a request path, a task id, an incident,
    # an error message, an alert
    await client.get(f"/api/tasks/task_{MARKER}", headers=mine)
    task = await platform.agent_tasks.create(
        operator, agent="gary", title=MARKER, description=MARKER, model=None, priority="low"
    )
    await client.get(f"/api/tasks/{task.id}", headers=mine)
    opened = await client.post(
        "/api/monitoring/incidents",
        headers=mine,
        json={"title": f"incident {MARKER}", "description": MARKER, "severity": "high"},
    )
    assert opened.status_code == 201, opened.text
    logging.getLogger("menagerie.tests").error("operator trouble %s", MARKER)
    assert platform.alerts is not None
    platform.alerts.thresholds = Thresholds(cpu_percent=-1.0)  # every machine passes it
    await platform.alerts.check()
    assert platform.alerts.active(operator)

    # what the operator sees holds the markers: the check below is not vacuous
    seen_by_operator = "".join(
        [(await client.get(path, headers=mine)).text for path in ops_routes()]
    )
    assert MARKER in seen_by_operator
    assert task.id in seen_by_operator

    issued = await platform.api_tokens.issue_for_tenant("acme", "acme admin")
    theirs = bearer(issued.token)
    routes = ops_routes()
    assert len(routes) >= 8, routes
    for path in routes:
        response = await client.get(path, headers=theirs)
        assert response.status_code in (200, 403), (path, response.status_code, response.text)
        assert response.status_code != 500
        assert MARKER not in response.text, path
        assert task.id not in response.text, path
        assert operator.user_id not in response.text, path
