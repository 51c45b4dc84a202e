"""MADACE `GET /api/agents` and `GET /api/agents/{name}` (seed 001) over a real server: the
documented responses field by field, the AGENT_NOT_FOUND envelope, operator persona files
served without a restart, and credentials outside dev mode."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.envelopes import assert_error
from tests.utils.http import bearer
from tests.utils.server import client_for

AUTH = bearer("test-master-key-0123456789abcdef")  # conftest's master key
BASE = "/madace/api/agents"
MADACE_ROLES = {"pm", "analyst", "architect", "sm", "dev"}

ROADMAP_AGENT = """
agent:
  name: roadmap
  version: 2.1.0
  title: Roadmap Keeper
  module: custom
  description: Keeps the roadmap current
  persona:
    icon: "🗺️"
    role: Roadmap owner
    identity: I keep our roadmap current.
    communication_style: Brief
    core_principles: [Dates are promises]
    critical_actions: [Check the roadmap first]
  menu:
    - {trigger: "*update", title: Update Roadmap, description: Move items between quarters}
  prompts: {default: Be brief.}
  auto_load: [docs/roadmap.md]
"""


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    platform = Platform.build(settings.model_copy(update={"rate_limits_enabled": False}))
    async with client_for(create_app(platform=platform)) as client:
        client.headers.update(AUTH)
        yield client


async def test_list_all_agents_as_documented(client: httpx.AsyncClient) -> None:
    response = await client.get(BASE)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["agents"]
    for agent in body["agents"]:
        assert list(agent) == ["name", "version", "title", "module", "description"]
    by_name = {agent["name"]: agent for agent in body["agents"]}
    assert MADACE_ROLES | {"chat-assistant-001"} <= set(by_name)
    # the seed's two examples, verbatim
    assert by_name["pm"] == {
        "name": "pm",
        "version": "1.0.0",
        "title": "MADACE Product Manager",
        "module": "mam",
        "description": "Planning and scale assessment agent",
    }
    assert by_name["analyst"] == {
        "name": "analyst",
        "version": "1.0.0",
        "title": "MADACE Requirements Analyst",
        "module": "mam",
        "description": "Requirements gathering and research agent",
    }


async def test_get_single_agent_as_documented(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/pm")
    assert response.status_code == 200
    pm = response.json()
    assert set(pm) == {
        "name",
        "version",
        "title",
        "module",
        "description",
        "persona",
        "menu",
        "prompts",
        "auto_load",
    }
    assert (pm["name"], pm["version"], pm["title"], pm["module"]) == (
        "pm",
        "1.0.0",
        "MADACE Product Manager",
        "mam",
    )
    persona = pm["persona"]
    assert list(persona) == [
        "icon",
        "role",
        "identity",
        "communication_style",
        "core_principles",
        "critical_actions",
    ]
    assert persona["icon"] == "📋"
    assert persona["role"] == "Product Manager & Project Planner"
    assert persona["identity"].startswith("I am the MADACE Product Manager")
    assert persona["communication_style"] == "Professional, strategic, and concise"
    assert persona["core_principles"][:2] == [
        "Scale-appropriate planning is essential",
        "Clear requirements prevent wasted effort",
    ]
    assert persona["critical_actions"] == ["Assess project scale before proposing solutions"]
    first = pm["menu"][0]
    assert (first["trigger"], first["title"], first["description"]) == (
        "*plan-project",
        "Plan New Project",
        "Scale assessment and initial planning",
    )
    assert isinstance(pm["prompts"]["default"], str)
    assert pm["prompts"]["planning"]
    assert pm["auto_load"] == []


@pytest.mark.parametrize("name", sorted(MADACE_ROLES))
async def test_every_madace_role_is_served(client: httpx.AsyncClient, name: str) -> None:
    agent = (await client.get(f"{BASE}/{name}")).json()
    assert agent["name"] == name
    assert agent["module"] == "mam"
    assert agent["menu"]
    assert all(item["trigger"].startswith("*") for item in agent["menu"])


async def test_unknown_agent_answers_agent_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/invalid-name")
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "AGENT_NOT_FOUND"
    assert body["message"] == "Agent 'invalid-name' does not exist"
    assert body["details"].startswith("Available agents: ")
    listed = set(body["details"].removeprefix("Available agents: ").split(", "))
    assert listed >= MADACE_ROLES
    assert isinstance(body["timestamp"], int)
    assert body["timestamp"] > 1_700_000_000_000


async def test_operator_files_are_served_and_edits_picked_up(
    client: httpx.AsyncClient, data_dir: Path
) -> None:
    agents = data_dir / "agents"
    (agents / "docs").mkdir(parents=True)
    (agents / "docs" / "roadmap.md").write_text("Q1: launch")
    path = agents / "roadmap.yaml"
    path.write_text(ROADMAP_AGENT)
    (agents / "broken.yaml").write_text("agent: [oops\n")  # skipped, never a 500
    listed = (await client.get(BASE)).json()["agents"]
    assert {
        "name": "roadmap",
        "version": "2.1.0",
        "title": "Roadmap Keeper",
        "module": "custom",
        "description": "Keeps the roadmap current",
    } in listed
    agent = (await client.get(f"{BASE}/roadmap")).json()
    assert agent["persona"]["icon"] == "🗺️"
    assert agent["menu"] == [
        {
            "trigger": "*update",
            "title": "Update Roadmap",
            "description": "Move items between quarters",
        }
    ]
    assert agent["prompts"] == {"default": "Be brief."}
    assert agent["auto_load"] == ["docs/roadmap.md"]

    path.write_text(ROADMAP_AGENT.replace("Roadmap Keeper", "Roadmap Owner"))
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))
    assert (await client.get(f"{BASE}/roadmap")).json()["title"] == "Roadmap Owner"


async def test_credentials_are_required_outside_dev_mode(client: httpx.AsyncClient) -> None:
    for path in (BASE, f"{BASE}/pm"):
        response = await client.get(path, headers={"Authorization": ""})
        # the seed's one credential code; the details say no key came at all
        body = assert_error(response, 401, "INVALID_API_KEY", dialect="madace")
        assert body["details"].startswith("CREDENTIALS_MISSING"), body


async def test_dev_mode_needs_no_credentials_as_in_the_seed(settings: Settings) -> None:
    platform = Platform.build(settings.model_copy(update={"dev_mode": True}))
    async with client_for(create_app(platform=platform)) as client:
        assert (await client.get(BASE)).status_code == 200
        assert (await client.get(f"{BASE}/pm")).json()["name"] == "pm"
