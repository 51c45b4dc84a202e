"""MADACE workflows, state machine and configuration (seed 001) over a real server: the
documented examples replayed field by field, a workflow run end to end through its agent with
the offline model (state in the database and mirrored as the seed's JSON file), operator
definitions re-read with a broken one skipped, the status file parsed (and its malformed
line reported), secrets kept only in `.env`, and another tenant's state unseen."""

from __future__ import annotations

import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.envelopes import assert_error
from tests.utils.http import bearer
from tests.utils.seed_examples import assert_shaped_like, example
from tests.utils.server import client_for

AUTH = bearer("test-master-key-0123456789abcdef")  # conftest's master key
API = "/madace/api"


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Platform]]:
    platform = Platform.build(
        settings.model_copy(update={"offline_token_delay_ms": 0, "rate_limits_enabled": False})
    )
    async with client_for(create_app(platform=platform)) as client:
        client.headers.update(AUTH)
        yield client, platform


async def other_client(client: httpx.AsyncClient, platform: Platform) -> httpx.AsyncClient:
    issued = await platform.api_tokens.issue_for_tenant("acme", "acme admin")
    return httpx.AsyncClient(base_url=client.base_url, headers=bearer(issued.token), timeout=10)


async def test_workflow_definitions_as_documented(env: tuple[httpx.AsyncClient, Platform]) -> None:
    client, _ = env
    listed = await client.get(f"{API}/workflows")
    assert listed.status_code == 200
    assert_shaped_like(example("001", "GET", "/api/workflows"), listed.json())
    by_name = {w["name"]: w for w in listed.json()["workflows"]}
    # the seed's two examples, verbatim
    assert by_name["plan-project"] == {
        "name": "plan-project",
        "agent": "pm",
        "phase": "planning",
        "steps": 5,
    }
    assert by_name["create-story"] == {
        "name": "create-story",
        "agent": "sm",
        "phase": "execution",
        "steps": 3,
    }

    detail = await client.get(f"{API}/workflows/plan-project")
    assert detail.status_code == 200
    shown = example("001", "GET", "/api/workflows/[name]")
    assert_shaped_like(shown, detail.json())
    body = detail.json()
    for key in ("name", "description", "agent", "phase"):
        assert body[key] == shown[key]
    assert body["steps"][:2] == shown["steps"]

    missing = await client.get(f"{API}/workflows/no-such-flow")
    error = assert_error(missing, 404, "WORKFLOW_NOT_FOUND", dialect="madace")
    assert "plan-project" in error["details"]


async def test_workflow_runs_through_its_agent(env: tuple[httpx.AsyncClient, Platform]) -> None:
    client, platform = env
    before = await client.get(f"{API}/workflows/plan-project/state")
    assert_error(before, 404, "NOT_FOUND", dialect="madace")

    request = example("001", "POST", "/api/workflows/[name]/execute", "request")
    first = await client.post(f"{API}/workflows/plan-project/execute", json=request)
    assert first.status_code == 200, first.text
    assert_shaped_like(example("001", "POST", "/api/workflows/[name]/execute"), first.json())
    body = first.json()
    assert body["success"] is True
    assert (body["currentStep"], body["totalSteps"], body["completed"]) == (1, 5, False)
    assert "offline" in body["agentResponse"].lower()  # the offline model answered
    assert body["nextPrompt"] == "Based on the scale, what are the key requirements?"

    state = await client.get(f"{API}/workflows/plan-project/state")
    assert state.status_code == 200
    assert_shaped_like(
        example("001", "GET", "/api/workflows/[name]/state"), state.json(), free={"variables"}
    )
    shown = state.json()
    assert shown["workflowName"] == "plan-project"
    assert shown["variables"] == {"scale": request["userInput"]}
    # the steps talk to the workflow's agent, in one session of the agent loop
    stored = await platform.workflows.states.get(platform.settings.default_tenant, "plan-project")
    assert stored is not None
    assert stored.session_id is not None
    mirror = platform.projects.state_file(platform.settings.default_tenant, "plan-project")
    assert mirror.name == ".plan-project.state.json"
    assert json.loads(mirror.read_text())["currentStep"] == 1
    for number in range(2, 6):
        step = await client.post(
            f"{API}/workflows/plan-project/execute", json={"userInput": f"answer {number}"}
        )
        assert step.status_code == 200, step.text
    last = step.json()
    assert (last["currentStep"], last["completed"], last["nextPrompt"]) == (5, True, None)
    messages = await client.get(f"/madace/api/v3/chat/sessions/{stored.session_id}/messages")
    agent_turns = [m for m in messages.json()["messages"] if m["role"] == "agent"]
    assert len(agent_turns) == 5
    assert json.loads(mirror.read_text())["status"] == "completed"

    # another tenant has no state of its own, and never sees this one
    async with await other_client(client, platform) as acme:
        hidden = await acme.get(f"{API}/workflows/plan-project/state")
        assert_error(hidden, 404, "NOT_FOUND", dialect="madace")


async def test_execute_refuses_bad_input(env: tuple[httpx.AsyncClient, Platform]) -> None:
    client, _ = env
    unknown = await client.post(f"{API}/workflows/nope/execute", json={"userInput": "x"})
    assert_error(unknown, 404, "WORKFLOW_NOT_FOUND", dialect="madace")
    # the first step asks the user something: an answer is needed
    empty = await client.post(f"{API}/workflows/create-story/execute", json={})
    assert "userInput" in assert_error(empty, 400, "VALIDATION_ERROR", dialect="madace")["details"]
    wrong = await client.post(f"{API}/workflows/create-story/execute", json={"userInput": 5})
    assert_error(wrong, 400, "VALIDATION_ERROR", dialect="madace")


async def test_operator_definitions_are_read_on_change(
    env: tuple[httpx.AsyncClient, Platform],
) -> None:
    client, platform = env
    folder = platform.projects.workflows_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken.yaml").write_text("name: [unclosed\n")
    (folder / "release.yaml").write_text(
        "name: release\ndescription: Ship it\nagent: dev\nphase: delivery\n"
        "steps:\n  - {name: Tag, action: elicit, prompt: 'Which version?', variable: version}\n"
    )
    names = {w["name"] for w in (await client.get(f"{API}/workflows")).json()["workflows"]}
    assert "release" in names
    assert "plan-project" in names
    ran = await client.post(f"{API}/workflows/release/execute", json={"userInput": "1.2.0"})
    assert ran.json()["completed"] is True
    state = (await client.get(f"{API}/workflows/release/state")).json()
    assert state["variables"] == {"version": "1.2.0"}
    (folder / "release.yaml").unlink()
    gone = await client.get(f"{API}/workflows/release")
    assert_error(gone, 404, "WORKFLOW_NOT_FOUND", dialect="madace")


STATUS = """# Status
## BACKLOG
- [TEST-009] Unit tests for core modules (8 points, milestone 1.8)
## TODO
## IN PROGRESS
- [API-002] Workflow routes (5 points, milestone 1.8)
## DONE
- [CLI-004] WebSocket real-time updates (8 points, milestone 1.7, completed 2025-10-22)
## Notes
- anything goes here
"""


async def test_state_machine_parses_the_status_file(
    env: tuple[httpx.AsyncClient, Platform],
) -> None:
    client, platform = env
    empty = await client.get(f"{API}/state")
    assert empty.status_code == 200
    assert empty.json()["statistics"]["totalStories"] == 0
    path = platform.projects.status_file(platform.settings.default_tenant)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STATUS)
    response = await client.get(f"{API}/state")
    assert response.status_code == 200
    shown = example("001", "GET", "/api/state")
    body = response.json()
    assert_shaped_like(shown, body)
    assert body["backlog"] == shown["backlog"]
    assert body["done"] == shown["done"]
    assert body["in_progress"][0]["id"] == "API-002"
    assert body["statistics"] == {
        "totalStories": 3,
        "totalPoints": 21,
        "backlogCount": 1,
        "todoCount": 0,
        "inProgressCount": 1,
        "doneCount": 1,
    }
    path.write_text(STATUS.replace("- [CLI-004]", "- CLI-004 has no brackets"))
    broken = await client.get(f"{API}/state")
    error = assert_error(broken, 500, "INTERNAL_ERROR", dialect="madace")
    assert "line 8" in error["details"]
    assert "Traceback" not in broken.text


async def test_the_shipped_example_parses() -> None:
    from menagerie.core.workflows.board import EXAMPLE, read_board

    board = read_board(EXAMPLE)
    assert [s.id for s in board.backlog] == ["TEST-009"]
    assert board.done[0].completed_at == "2025-10-22"


async def test_configuration_keeps_secrets_apart(
    env: tuple[httpx.AsyncClient, Platform],
) -> None:
    client, platform = env
    assert_error(await client.get(f"{API}/config"), 404, "CONFIG_NOT_FOUND", dialect="madace")
    request: dict[str, Any] = example("001", "POST", "/api/config", "request")
    request = {**request, "github_token": "ghp_notarealtoken0123456789"}
    saved = await client.post(f"{API}/config", json=request)
    assert saved.status_code == 200, saved.text
    assert_shaped_like(example("001", "POST", "/api/config"), saved.json())
    assert saved.json() == {
        "success": True,
        "message": "Configuration saved successfully",
        "configPath": "madace/config/config.yaml",
        "envPath": "madace/config/.env",
    }
    data_dir: Path = platform.settings.resolved_data_dir
    config_text = (data_dir / "madace/config/config.yaml").read_text()
    env_file = data_dir / "madace/config/.env"
    assert "your-api-key-here" not in config_text
    assert "ghp_" not in config_text
    assert 'LLM_API_KEY="your-api-key-here"' in env_file.read_text()
    assert 'GITHUB_TOKEN="ghp_notarealtoken0123456789"' in env_file.read_text()
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600

    got = await client.get(f"{API}/config")
    assert got.status_code == 200
    assert_shaped_like(example("001", "GET", "/api/config"), got.json())
    body = got.json()
    assert body["llm"] == {"provider": "gemini", "model": "gemini-2.0-flash-exp"}
    assert body["project_name"] == "My Project"
    assert "github_token" not in body
    assert "your-api-key-here" not in got.text

    # saved without the key: the stored one stays
    again = {k: v for k, v in request.items() if k != "github_token"}
    again["llm"] = {"provider": "local", "model": "smollm2"}
    assert (await client.post(f"{API}/config", json=again)).status_code == 200
    assert 'LLM_API_KEY="your-api-key-here"' in env_file.read_text()

    bad = await client.post(f"{API}/config", json={**request, "llm": {"provider": "nope"}})
    details = assert_error(bad, 400, "VALIDATION_ERROR", dialect="madace")["details"]
    assert "llm.provider" in details
    missing = await client.post(f"{API}/config", json={"project_name": "x"})
    assert (
        "user_name" in assert_error(missing, 400, "VALIDATION_ERROR", dialect="madace")["details"]
    )

    # another tenant has none of its own
    async with await other_client(client, platform) as acme:
        none = await acme.get(f"{API}/config")
        assert_error(none, 404, "CONFIG_NOT_FOUND", dialect="madace")
