"""The tools page in a real browser, against a real server and a real local MCP server.

`seed-github` is added to the catalogue (data/mcp_servers.json) as a command the test's own
Python runs (`tests/utils/mcp_seed_server.py`): it installs in a moment, without the network.
Checked: search and category filter, install from a form generated from the entry's schema
with a live progress bar reaching 100 % and the secret shown masked; a tool called from its
form with its result shown, then the server stopped behind the page's back and its badge
following live; an mcp.json pasted and another uploaded, and what they imported shown.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from menagerie.core.identity.models import Principal
from menagerie.platform import Platform
from tests.utils.principals import admin
from tests.web.conftest import Console, sign_in

SEED = "seed-github"
SEED_SERVER = Path(__file__).parents[1] / "utils" / "mcp_seed_server.py"
SECRET = "ghp_browserSecret0123456789"
EVENTS = "/console/api/events"


def write_catalogue(tmp_path: Path) -> Path:
    """A data directory whose catalogue adds `seed-github`, with a secret, a number, an enum
    and a boolean in its configuration schema."""
    path = tmp_path / "data"
    path.mkdir()
    entry = {
        "name": SEED,
        "description": "GitHub repositories, answered by a local test server",
        "category": "devops",
        "author": "Menagerie tests",
        "command": sys.executable,
        "args": ["-P", str(SEED_SERVER)],  # -P: its folder's http.py must not shadow the stdlib
        "configuration_schema": {
            "type": "object",
            "properties": {
                "api_token": {"type": "string", "description": "A GitHub token"},
                "organization": {"type": "string"},
                "max_results": {"type": "integer", "minimum": 1},
                "visibility": {"enum": ["public", "private"]},
                "verbose": {"type": "boolean"},
            },
            "required": ["api_token"],
        },
    }
    (path / "mcp_servers.json").write_text(json.dumps({"version": 1, "servers": [entry]}))
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return write_catalogue(tmp_path)


async def open_tools(page: Page, console: Console, path: str = "/#/tools") -> None:
    """Sign in onto the tools page and wait until its event stream is open: the server has
    subscribed to the bus once the stream's headers come back."""
    async with page.expect_response(lambda r: EVENTS in r.url):
        await sign_in(page, console, path)
    await page.wait_for_selector("#catalog li.entry")


async def running(platform: Platform, principal: Principal, name: str) -> None:
    for _ in range(600):
        status = (await platform.mcp.installation(principal, name)).status
        if status in ("running", "failed"):
            assert status == "running"
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never started")


async def test_install_with_a_form_and_watch_the_progress(page: Page, console: Console) -> None:
    await open_tools(page, console)
    catalog = page.locator("#catalog li.entry")

    await page.select_option("#tool-category", "utilities")
    await expect(catalog.filter(has_text="mcp-server-time")).to_have_count(1)
    await expect(catalog.filter(has_text=SEED)).to_have_count(0)
    await page.select_option("#tool-category", "")
    await page.fill("#tool-search", "seed")
    await expect(catalog).to_have_count(1)

    await page.click(f"button[aria-label='Install {SEED}']")
    dialog = page.locator("#tool-dialog")
    await expect(dialog.locator("#cfg-api_token")).to_have_attribute("type", "password")
    await dialog.locator("#cfg-api_token").fill(SECRET)
    await dialog.locator("#cfg-organization").fill("acme")
    await dialog.locator("#cfg-max_results").fill("5")
    await dialog.locator("#cfg-visibility").select_option(label="private")
    await dialog.locator("#cfg-verbose").check()
    await dialog.locator("button[type=submit]").click()

    card = page.locator(f"#servers li[data-server='{SEED}']")
    await expect(card.locator("progress")).to_have_attribute("value", "100")
    await expect(card.locator(".progress-line .step")).to_contain_text("Installation complete")
    await expect(card.locator(".badge.status")).to_have_text("running")
    await expect(card.locator(".badge.health")).to_have_text("healthy")
    await expect(card.locator("dl.config")).to_contain_text("ghp_***_redacted")
    await expect(catalog.filter(has_text=SEED).locator(".badge.completed")).to_have_text(
        "installed"
    )
    assert SECRET not in await page.content()

    # what the form sent, typed as the schema says
    [(item, _, secrets)] = await console.platform.mcp.launch_plans(admin(console.platform))
    assert item.configuration == {
        "api_token": "ghp_***_redacted",
        "organization": "acme",
        "max_results": 5,
        "visibility": "private",
        "verbose": True,
    }
    assert secrets == [SECRET]

    # configuring again shows the secret masked, never filled in, and keeps it when left empty
    await card.locator("button", has_text="Configure").click()
    token = dialog.locator("#cfg-api_token")
    await expect(token).to_have_value("")
    await expect(token).to_have_attribute(
        "placeholder", "Saved as ghp_***_redacted; leave empty to keep it"
    )
    await dialog.locator("#cfg-organization").fill("globex")
    await dialog.locator("button[type=submit]").click()
    await expect(card.locator("dl.config")).to_contain_text("globex")
    [(_, _, secrets)] = await console.platform.mcp.launch_plans(admin(console.platform))
    assert secrets == [SECRET]


async def test_call_a_tool_and_follow_the_status(page: Page, console: Console) -> None:
    platform = console.platform
    principal = admin(platform)
    await platform.mcp.install(principal, SEED, {"api_token": SECRET})
    await running(platform, principal, SEED)
    await page.set_viewport_size({"width": 390, "height": 844})
    await open_tools(page, console, f"/#/tools/{SEED}")  # the address opens its tools

    tool = page.locator("#tool-list details[data-tool='create_repository']")
    await tool.locator("summary").click()
    await tool.locator("#tool-create_repository-name").fill("demo")
    await tool.locator("button", has_text="Call").click()
    result = tool.locator(".tool-result pre")
    await expect(result).to_contain_text('"repository_url": "https://github.com/your-org/demo"')
    # nothing wider than a phone's screen
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390

    # stopped elsewhere: the badges follow the server's status events
    card = page.locator(f"#servers li[data-server='{SEED}']")
    await platform.mcp.stop_server(principal, SEED)
    await expect(card.locator(".badge.status")).to_have_text("stopped")
    await expect(card.locator(".badge.health")).to_have_text("unknown")
    await expect(page.locator("#tool-list .error")).to_contain_text(f"{SEED} is stopped")


async def test_import_an_mcp_json(page: Page, console: Console, tmp_path: Path) -> None:
    await open_tools(page, console)
    server = {"command": sys.executable, "args": ["-P", str(SEED_SERVER)]}
    await page.click("details summary:has-text('Import servers')")

    await page.fill("#import-text", "{not json")
    await page.click("#import")
    await expect(page.locator("#import-result .error")).to_have_text(
        "This is not valid JSON: paste the whole mcp.json file."
    )

    claude = {"mcpServers": {"pasted": {**server, "env": {"GITHUB_TOKEN": SECRET}}}}
    await page.fill("#import-text", json.dumps(claude))
    await page.click("#import")
    result = page.locator("#import-result")
    await expect(result.locator(".ok")).to_have_text("1 server imported; installation started.")
    await expect(result.locator("li[data-server='pasted']")).to_contain_text(sys.executable)
    card = page.locator("#servers li[data-server='pasted']")
    await expect(card.locator(".badge.status")).to_have_text("running")
    await expect(card.locator("dl.config")).to_contain_text("GITHUB_TOKEN")
    assert SECRET not in await page.content()

    vscode = tmp_path / "mcp.json"
    vscode.write_text(json.dumps({"servers": {"uploaded": {"type": "stdio", **server}}}))
    await page.set_input_files("#import-file", str(vscode))
    await expect(page.locator("#import-text")).to_have_value(vscode.read_text())
    await page.click("#import")
    await expect(result.locator("li[data-server='uploaded']")).to_be_visible()
    await expect(page.locator("#servers li[data-server='uploaded']")).to_be_visible()

    again = await page.locator("#import-text").input_value()
    assert again == ""  # cleared after a successful import
    await page.fill("#import-text", json.dumps(claude))
    await page.click("#import")
    await expect(result.locator(".error")).to_contain_text("Already installed")
