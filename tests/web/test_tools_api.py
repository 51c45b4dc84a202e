"""The tools page's API over a real server, with a real local MCP server behind it
(`seed-github`, the seed's tools answered without the network: `tests/utils/mcp_seed_server.py`).

Checked: the catalogue's search, category filter and secret fields; another tenant's
installation is a 404 on every route; a secret typed at install time never comes back in an
answer (only masked); tool calls, with bad arguments and unknown tools as sentences; a plain
user may not import a server that runs a command.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from menagerie.core.identity.models import Principal
from menagerie.platform import Platform
from tests.utils.http import bearer
from tests.utils.principals import admin
from tests.web.conftest import Console
from tests.web.test_tools import SEED, SEED_SERVER, write_catalogue

SECRET = "ghp_consoleSecret0123456789"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return write_catalogue(tmp_path)


def client(console: Console, token: str | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"{console.base_url}/console/api",
        headers=bearer(token or console.token),
        timeout=30,
    )


async def wait_status(platform: Platform, principal: Principal, want: str) -> None:
    for _ in range(600):
        status = (await platform.mcp.installation(principal, SEED)).status
        if status in (want, "failed"):
            assert status == want
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{SEED} never became {want}")


async def test_catalogue_search_categories_and_secret_fields(console: Console) -> None:
    async with client(console) as http:
        found = (await http.get("/tools/catalog", params={"q": "seed"})).json()
        assert [e["name"] for e in found["entries"]] == [SEED]
        [entry] = found["entries"]
        assert entry["secret_fields"] == ["api_token"]
        assert entry["configuration_schema"]["required"] == ["api_token"]
        assert entry["installed"] is False

        devops = (await http.get("/tools/catalog", params={"category": "devops"})).json()
        assert SEED in [e["name"] for e in devops["entries"]]
        assert all(e["category"] == "devops" for e in devops["entries"])
        utilities = (await http.get("/tools/catalog", params={"category": "utilities"})).json()
        assert SEED not in [e["name"] for e in utilities["entries"]]

        categories = (await http.get("/tools/categories")).json()["categories"]
        [counted] = [c for c in categories if c["name"] == "devops"]
        assert counted["server_count"] == devops["total"]


async def test_a_secret_never_comes_back(console: Console) -> None:
    answers: list[str] = []
    async with client(console) as http:
        created = await http.post(
            "/tools/servers",
            json={
                "name": SEED,
                "configuration": {"api_token": SECRET, "organization": "acme"},
                "auto_start": False,
            },
        )
        assert created.status_code == 201, created.text
        answers.append(created.text)
        assert created.json()["configuration"]["api_token"] == "ghp_***_redacted"

        for path in ("/tools/servers", f"/tools/servers/{SEED}"):
            read = await http.get(path)
            assert read.status_code == 200
            answers.append(read.text)

        # sending back what was read keeps the stored secret; other fields change
        shown = created.json()["configuration"]
        patched = await http.patch(
            f"/tools/servers/{SEED}",
            json={"configuration": {**shown, "organization": "globex"}, "restart": False},
        )
        assert patched.status_code == 200, patched.text
        answers.append(patched.text)
        assert patched.json()["server"]["configuration"]["organization"] == "globex"

        # a refused configuration names the field without echoing the secret
        refused = await http.patch(
            f"/tools/servers/{SEED}",
            json={"configuration": {"api_token": SECRET, "max_results": "many"}},
        )
        assert refused.status_code == 400
        assert refused.json()["details"]["field"] == "max_results"
        assert refused.json()["error"][0].isupper()
        answers.append(refused.text)

    assert all(SECRET not in answer for answer in answers)
    # what was stored is the secret itself: the form's value reached the server intact
    [(_, _, secrets)] = await console.platform.mcp.launch_plans(admin(console.platform))
    assert SECRET in secrets


async def test_another_tenants_installation_is_not_found(console: Console) -> None:
    platform = console.platform
    await platform.mcp.install(admin(platform), SEED, {"api_token": SECRET}, auto_start=False)
    issued = await platform.api_tokens.issue_for_tenant("acme", "acme admin")
    async with client(console, issued.token) as http:
        assert (await http.get("/tools/servers")).json() == {"servers": []}
        catalogue = (await http.get("/tools/catalog", params={"q": "seed"})).json()
        assert catalogue["entries"][0]["installed"] is False
        attempts = [
            await http.get(f"/tools/servers/{SEED}"),
            await http.get(f"/tools/servers/{SEED}/tools"),
            await http.post(f"/tools/servers/{SEED}/tools/list_repositories/call", json={}),
            await http.patch(f"/tools/servers/{SEED}", json={"configuration": {}}),
            await http.post(f"/tools/servers/{SEED}/restart"),
            await http.post(f"/tools/servers/{SEED}/stop"),
            await http.delete(f"/tools/servers/{SEED}"),
        ]
    for answer in attempts:
        assert answer.status_code == 404, answer.text
        assert answer.json()["code"] == "SERVER_NOT_INSTALLED"
        assert answer.json()["error"] == f"MCP server {SEED} is not installed"
    # still there for its own tenant
    assert (await platform.mcp.installation(admin(platform), SEED)).server_name == SEED


async def test_tool_calls_answer_results_and_sentences(console: Console) -> None:
    platform = console.platform
    await platform.mcp.install(admin(platform), SEED, {"api_token": SECRET})
    await wait_status(platform, admin(platform), "running")
    async with client(console) as http:
        listed = (await http.get(f"/tools/servers/{SEED}/tools")).json()
        names = {tool["name"] for tool in listed["tools"]}
        assert {"create_repository", "list_repositories", "search_code"} <= names

        called = await http.post(
            f"/tools/servers/{SEED}/tools/create_repository/call",
            json={"arguments": {"name": "demo"}},
        )
        assert called.status_code == 200, called.text
        body: dict[str, Any] = called.json()
        assert body["is_error"] is False
        assert body["content"]["repository_url"] == "https://github.com/your-org/demo"

        wrong = await http.post(
            f"/tools/servers/{SEED}/tools/create_repository/call",
            json={"arguments": {"name": 42}},
        )
        assert wrong.status_code == 400
        assert wrong.json()["code"] == "INVALID_INPUT"
        assert wrong.json()["error"].startswith("Invalid arguments for create_repository")

        unknown = await http.post(f"/tools/servers/{SEED}/tools/nope/call", json={})
        assert unknown.status_code == 404
        assert unknown.json()["code"] == "TOOL_NOT_FOUND"


async def test_a_plain_user_cannot_import_a_command(console: Console) -> None:
    platform = console.platform
    signed = await platform.accounts.register("plain@example.com", "SecurePassword123", "Plain")
    account = signed.account
    principal = Principal(account.tenant_id, account.id, frozenset(account.roles))
    issued = await platform.identity.create_api_token(principal, "plain")
    file = {"mcpServers": {"mine": {"command": "python3", "args": ["-P", str(SEED_SERVER)]}}}
    async with client(console, issued.token) as http:
        refused = await http.post("/tools/import", json={"configuration": file})
        assert refused.status_code == 403
        assert refused.json()["code"] == "INSUFFICIENT_PERMISSIONS"
        not_a_file = await http.post("/tools/import", json={"configuration": {"other": {}}})
        assert not_a_file.status_code == 400
        assert "mcpServers" in not_a_file.json()["error"]
    assert await platform.mcp.installations(principal) == []
