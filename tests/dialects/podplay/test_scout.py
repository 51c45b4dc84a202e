"""PodPlay's Scout projects (seed 000 "Scout Agent API") over a real server: the seed's
examples replayed, a project whose plan runs in its workspace on the worker with each step's
times, a `local` deploy whose URL serves the build over HTTP, `project_update` and
`deployment_status` heard by the owner, and the refusals (unknown ids, another tenant's
project, a name taken, no Vercel connection)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, get_args

import httpx
import pytest

from menagerie.app import create_app
from menagerie.core.scout import plans
from menagerie.dialects.podplay.schemas.scout import Template
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.dialects.podplay.replay import assert_like, example
from tests.utils.envelopes import ISO, assert_error
from tests.utils.http import bearer
from tests.utils.server import serve
from tests.utils.socket_events import EventClient

TOKEN = "test-master-key-0123456789abcdef"  # conftest's master key
BASE = "/api/v1/scout_agent/projects"
WAIT_S = 30
PLAN = "project_current_plan[]"


@dataclass
class Env:
    url: str
    platform: Platform
    http: httpx.AsyncClient


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[Env]:
    platform = Platform.build(settings)
    async with (
        serve(create_app(platform=platform)) as url,
        httpx.AsyncClient(base_url=f"{url}/podplay", headers=bearer(TOKEN), timeout=30) as http,
    ):
        yield Env(url, platform, http)


async def built(env: Env, name: str, http: httpx.AsyncClient | None = None) -> dict[str, Any]:
    """The project's status once its run has ended, polled until then."""
    client = http or env.http
    async with asyncio.timeout(WAIT_S):
        while True:
            response = await client.get(f"{BASE}/{name}/status")
            assert response.status_code == 200, response.text
            body = response.json()
            if body["project_overall_status"] in ("completed", "failed"):
                return body
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def listening(url: str, token: str) -> AsyncIterator[EventClient]:
    client = EventClient()
    await client.sio.connect(url, auth={"token": token}, transports=["websocket"])
    try:
        await client.next("connected")
        yield client
    finally:
        await client.sio.disconnect()


async def test_the_seed_replayed_a_build_and_a_local_deploy(env: Env) -> None:
    async with listening(env.url, TOKEN) as owner:
        request = example("POST", BASE, "request")
        created = await env.http.post(BASE, json=request)
        assert created.status_code == 201, created.text
        body = created.json()
        assert_like(example("POST", BASE), body, nullable={"repository_url"})
        assert body["status"] == "initializing"
        assert body["name"] == request["name"]
        assert body["next_steps"][0] == "Initialize Development Environment"
        project_id = body["project_id"]
        # the workspace is a PodPlay workspace of the caller's
        workspace = await env.http.get(f"/api/workspaces/{body['workspace_id']}")
        assert workspace.status_code == 200, workspace.text

        # the owner hears the build go by, to its end
        update = await owner.next("project_update", project_id=project_id, status="completed")
        assert update["progress"] == 100
        assert update["logs"]

        status = await built(env, request["name"])
        assert_like(
            example("GET", f"{BASE}/{{project_name}}/status"),
            status,
            nullable={"project_active_step_id", f"{PLAN}.estimated_completion"},
        )
        assert status["project_overall_status"] == "completed", status
        assert status["project_associated_workspace_id"] == body["workspace_id"]
        assert status["progress_percentage"] == 100
        assert status["estimated_remaining"] == "0s"
        assert status["planned_by"] == "template"  # only the offline model is configured
        plan = status["project_current_plan"]
        assert [step["id"] for step in plan] == [f"step_{n}" for n in range(1, 6)]
        for step in plan:
            assert step["status"] == "completed", step
            assert ISO.match(step["started_at"]), step
            assert ISO.match(step["completed_at"]), step
            assert step["started_at"] <= step["completed_at"]
            assert step["duration_seconds"] >= 0

        listed = await env.http.get(BASE)
        assert listed.status_code == 200, listed.text
        assert_like(example("GET", BASE), listed.json(), nullable={"projects[].repository_url"})
        project = listed.json()["projects"][0]
        assert project["project_id"] == project_id
        assert project["status"] == "completed"
        assert project["completion_percentage"] == 100
        assert {"react", "typescript", "tailwind"} <= set(project["technologies"])
        done = await env.http.get(BASE, params={"status": "completed", "limit": 1})
        assert done.json()["pagination"] == {"total": 1, "limit": 1, "offset": 0}
        active = await env.http.get(BASE, params={"status": "active"})
        assert active.json()["projects"] == []

        deploy = {
            **example("POST", f"{BASE}/{{project_id}}/deploy", "request"),
            "platform": "local",
        }
        deployed = await env.http.post(f"{BASE}/{project_id}/deploy", json=deploy)
        assert deployed.status_code == 200, deployed.text
        answer = deployed.json()
        assert_like(example("POST", f"{BASE}/{{project_id}}/deploy"), answer, nullable={"logs_url"})
        assert answer["status"] == "deployed"
        assert answer["platform"] == "local"
        heard = await owner.next(
            "deployment_status", deployment_id=answer["deployment_id"], status="deployed"
        )
        assert heard["url"] == answer["deployment_url"]

    # the build output, served over HTTP on this machine
    async with httpx.AsyncClient(timeout=10) as plain:
        page = await plain.get(answer["deployment_url"])
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert f"<h1>{request['name']}</h1>" in page.text
        assert "<li>authentication</li>" in page.text  # the features, rendered by the build
        missing = await plain.get(answer["deployment_url"] + "nothing-here.txt")
        assert missing.status_code == 404


async def test_refusals(env: Env) -> None:
    # the wire model names exactly the templates core has a plan for
    assert set(get_args(Template)) == set(plans.TEMPLATES)
    unknown = await env.http.get(f"{BASE}/no-such-project/status")
    body = assert_error(unknown, 404, "RESOURCE_NOT_FOUND", dialect="podplay")
    assert body["details"]["reason"] == "PROJECT_NOT_FOUND"
    nowhere = await env.http.post(f"{BASE}/proj_unknown/deploy", json={"platform": "local"})
    assert_error(nowhere, 404, "RESOURCE_NOT_FOUND", dialect="podplay")
    template = await env.http.post(BASE, json={"name": "x", "template": "cobol"})
    assert_error(template, 422, "INVALID_INPUT", dialect="podplay")

    created = await env.http.post(BASE, json={"name": "site", "features": ["api"]})
    assert created.status_code == 201, created.text
    project_id = created.json()["project_id"]
    again = await env.http.post(BASE, json={"name": "site"})
    body = assert_error(again, 409, "INVALID_INPUT", dialect="podplay")
    assert body["details"]["reason"] == "PROJECT_EXISTS"
    assert (await built(env, "site"))["project_overall_status"] == "completed"

    # vercel: the tenant has no Vercel connection
    vercel = await env.http.post(f"{BASE}/{project_id}/deploy", json={"platform": "vercel"})
    body = assert_error(vercel, 404, "RESOURCE_NOT_FOUND", dialect="podplay")
    assert body["details"]["reason"] == "NO_VERCEL_CONNECTION"

    # another user of the same tenant, and another tenant: the project does not exist for them
    issued = await env.platform.api_tokens.issue_for_tenant("acme", "acme admin")
    neighbour = await env.platform.accounts.register("neighbour@example.com", "a long password 1")
    for token in (neighbour.tokens.access_token, issued.token):
        async with httpx.AsyncClient(
            base_url=f"{env.url}/podplay", headers=bearer(token), timeout=30
        ) as other:
            for response in (
                await other.get(f"{BASE}/site/status"),
                await other.get(f"{BASE}/{project_id}/status"),
                await other.post(f"{BASE}/{project_id}/deploy", json={"platform": "local"}),
            ):
                assert_error(response, 404, "RESOURCE_NOT_FOUND", dialect="podplay")
            assert (await other.get(BASE)).json()["projects"] == []
