"""The runs page in a real browser against the real server: a task started from the page
reaches completed live, a running task stops, an orchestration's steps show on a phone-sized
screen, and a terminal into a new workspace runs a command; over the API, another tenant's
tasks, sandboxes and orchestrations are not found and another user's terminal output is not
theirs to hear."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from menagerie.core.clock import utcnow
from menagerie.core.orchestration.models import StepRequest
from menagerie.core.sandboxes.events import SandboxStatusChanged, TerminalOutput
from menagerie.core.sandboxes.models import SandboxRequest
from menagerie.settings import Settings
from tests.utils.principals import admin, other_tenant
from tests.web.conftest import Console, sign_in

TASKS = "#tasks li[data-id]"


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """The default test settings, with what a test asks for (`indirect` parametrisation)."""
    return settings.model_copy(update=getattr(request, "param", {}))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def start_task(page: Page, prompt: str) -> str:
    """Start a task from the form; the id of its row once the list shows it."""
    await page.fill("#task-prompt", prompt)
    await page.click("#task-start")
    row = page.locator(TASKS, has_text=prompt.splitlines()[0])
    await expect(row).to_have_count(1)
    task_id = await row.get_attribute("data-id")
    assert task_id is not None
    return task_id


async def test_a_task_started_on_the_page_completes_live(page: Page, console: Console) -> None:
    await sign_in(page, console, "/#/runs")
    await page.wait_for_selector("#runs-tasks .empty")
    await page.evaluate("window.notReloaded = true")
    task_id = await start_task(page, "Say hello to the console\nKeep it short.")

    # the row follows the task's events: completed, at 100 %, without reading the list again
    row = page.locator(f'{TASKS}[data-id="{task_id}"]')
    await expect(row.locator(".badge")).to_have_text("completed")
    await expect(row.locator("progress")).to_have_attribute("value", "100")
    assert await page.evaluate("window.notReloaded") is True
    assert len([c for c in console.api_calls if c.startswith("/tasks?")]) == 1

    await row.get_by_role("button", name="Details of Say hello to the console").click()
    detail = page.locator("#task-detail")
    await expect(detail.locator(".runs-answer")).to_contain_text("[offline model]")
    await expect(detail.locator(".runs-prompt")).to_have_text(
        "Say hello to the console\n\nKeep it short."
    )
    await expect(detail.locator(".runs-steps")).to_contain_text("agent_turn")
    assert page.url.endswith(f"#/runs/tasks/{task_id}")
    task = await console.platform.tasks.get(admin(console.platform), task_id)
    assert (task.status, task.agent_id, task.description) == ("completed", "gary", "Keep it short.")


# the offline model answers at one token every 5 s: the task is still running when stopped
@pytest.mark.parametrize("settings", [{"offline_token_delay_ms": 5000}], indirect=True)
async def test_a_running_task_stops_from_the_page(page: Page, console: Console) -> None:
    await sign_in(page, console, "/#/runs/tasks")
    task_id = await start_task(page, "Talk for a long while")
    row = page.locator(f'{TASKS}[data-id="{task_id}"]')
    await expect(row.locator(".badge")).to_have_text("running")

    # by keyboard: the row is redrawn as events come, and the focus stays in it
    await row.get_by_role("button", name="Stop Talk for a long while").focus()
    await page.keyboard.press("Enter")
    await expect(row.locator(".badge")).to_have_text("stopped")
    await expect(row.get_by_role("button", name="Details of Talk for a long while")).to_be_focused()
    await expect(row.get_by_role("button", name="Run Talk for a long while again")).to_be_visible()
    task = await console.platform.tasks.get(admin(console.platform), task_id)
    run = await console.platform.runs.store.latest_for(task_id)
    assert task.status == "stopped"
    assert task.result is None
    assert run is not None
    assert run.status == "cancelled"


async def test_an_orchestrations_steps_on_a_phone(page: Page, console: Console) -> None:
    await page.set_viewport_size({"width": 390, "height": 844})
    me = admin(console.platform)
    report = StepRequest(
        "report_generator", {"format": "json", "title": "Console check", "data": {"ok": True}}
    )
    created, _ = await console.platform.orchestrations.submit(me, [report])

    await sign_in(page, console, "/#/runs/orchestrations")
    row = page.locator(f'#orchestrations li[data-id="{created.id}"]')
    await expect(row.locator(".badge")).to_have_text("completed")
    await row.get_by_role("button").click()
    step = page.locator('#orchestration-steps li[data-number="1"]')
    await expect(step).to_contain_text("Report Generation")
    await expect(step.locator(".badge")).to_have_text("completed")
    await step.locator("summary", has_text="Result").click()
    await expect(step.locator("pre")).to_contain_text("Console check")
    # nothing is wider than the screen
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390


async def test_a_terminal_into_a_new_workspace(page: Page, console: Console) -> None:
    await sign_in(page, console, "/#/runs/sandboxes")
    await page.fill("#sandbox-name", "console-dev")
    await page.select_option("#sandbox-template", "workspace")
    await page.click("#sandbox-create")
    row = page.locator("#sandboxes li[data-id]", has_text="console-dev")
    # started on the worker: the row hears it running
    await expect(row.locator(".badge")).to_have_text("running", timeout=30_000)
    await row.get_by_role("button", name="Open a terminal in console-dev").click()
    await page.wait_for_selector('#terminal[data-ready="true"]')

    await page.fill("#terminal-input", "echo hello-console")
    await page.press("#terminal-input", "Enter")
    # the shell's own output (a text node), not the echoed command line
    await page.wait_for_function(
        """() => [...document.querySelector('#terminal-output').childNodes]
              .some((n) => n.nodeType === 3 && n.textContent.includes('hello-console'))"""
    )

    sandbox_id = await row.get_attribute("data-id")
    await row.get_by_role("button", name="Delete console-dev").click()
    await page.click("#confirm-delete")
    await expect(row).to_have_count(0)
    await expect(page.locator("#terminal")).to_be_hidden()
    listed, _ = await console.platform.sandboxes.list(admin(console.platform))
    assert sandbox_id not in [s.id for s in listed]


async def test_another_tenants_runs_are_not_found(console: Console) -> None:
    platform = console.platform
    me = admin(platform)
    task = await platform.agent_tasks.create(
        me, agent="gary", title="Mine", description="", model=None, priority="medium"
    )
    sandbox = await platform.sandboxes.create(me, SandboxRequest(name="mine"))
    report = StepRequest("report_generator", {"format": "json", "data": {}})
    orchestration, _ = await platform.orchestrations.submit(me, [report])
    stranger = await other_tenant(platform)
    issued = await platform.identity.create_api_token(stranger, "acme console")
    base = f"{console.base_url}/console/api"
    terminal = {"session_id": "s1", "command": "ls"}
    calls: list[tuple[str, str, Any]] = [
        ("GET", f"/tasks/{task.id}", None),
        ("POST", f"/tasks/{task.id}/stop", None),
        ("POST", f"/tasks/{task.id}/start", None),
        ("GET", f"/sandboxes/{sandbox.id}", None),
        ("POST", f"/sandboxes/{sandbox.id}/start", None),
        ("POST", f"/sandboxes/{sandbox.id}/terminal", terminal),
        ("DELETE", f"/sandboxes/{sandbox.id}/terminal/s1", None),
        ("DELETE", f"/sandboxes/{sandbox.id}", None),
        ("GET", f"/orchestrations/{orchestration.id}", None),
    ]
    async with httpx.AsyncClient(base_url=base, headers=bearer(issued.token)) as http:
        for method, path, body in calls:
            answer = await http.request(method, path, json=body)
            assert answer.status_code == 404, (method, path, answer.text)
            assert answer.json()["error"].endswith("not found"), answer.json()
        lists = [await http.get(p) for p in ("/tasks", "/sandboxes", "/orchestrations")]
        assert [r.json()["total"] for r in lists] == [0, 0, 0]
    assert (await platform.sandboxes.get(me, sandbox.id)).status == "pending"  # untouched


async def test_bad_input_is_a_sentence_and_a_sandbox_has_no_shell(console: Console) -> None:
    platform = console.platform
    sandbox = await platform.sandboxes.create(admin(platform), SandboxRequest(name="metamorph"))
    async with httpx.AsyncClient(
        base_url=f"{console.base_url}/console/api", headers=bearer(console.token)
    ) as http:
        empty = await http.post("/tasks", json={"prompt": ""})
        assert empty.status_code == 400
        assert empty.json()["details"]["field"].endswith("prompt")
        unknown = await http.post("/tasks", json={"prompt": "hi", "agent": "nobody"})
        assert unknown.status_code == 404
        assert unknown.json()["error"] == "Agent 'nobody' does not exist"
        template = await http.post("/sandboxes", json={"name": "x", "template": "nope"})
        assert template.status_code == 400
        assert template.json()["error"].startswith("Unknown template 'nope'")
        # a Metamorph sandbox runs its allowed commands only: no shell to open in it
        shell = await http.post(
            f"/sandboxes/{sandbox.id}/terminal", json={"session_id": "s1", "command": "sh"}
        )
        assert shell.status_code == 404
        offered = (await http.get("/sandbox/templates")).json()
        assert [t["name"] for t in offered["templates"] if t["terminal"]] == ["workspace"]


def test_terminal_output_names_its_user_for_the_stream() -> None:
    """The events stream keeps events that name a user to that user (and admins): terminal
    output and sandbox status carry their owner as `user_id`."""
    at = utcnow().replace(microsecond=0)  # the wire keeps milliseconds
    output = TerminalOutput("t1", "usr_1", "sb_1", "s1", "hi", "stdout", at)
    status = SandboxStatusChanged("t1", "usr_1", "sb_1", "codespace", "running", 100, "", (), at)
    for event in (output, status):
        payload = event.to_payload()
        assert (payload["tenant_id"], payload["user_id"]) == ("t1", "usr_1")
        assert type(event).from_payload(payload) == event
