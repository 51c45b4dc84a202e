"""The Monitoring page and its API: admins only, health and figures read when asked, alerts
live from the bus, and request and error logs of the requests the server really answered."""

from __future__ import annotations

import dataclasses
import logging
import re
import uuid

import httpx
from playwright.async_api import Page, expect

from menagerie.core.identity.models import Principal
from menagerie.platform import Platform
from tests.web.conftest import Console, sign_in

PASSWORD = "SecurePassword123"
ROUTES = ("health", "overview", "alerts", "requests", "errors")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def plain_user(platform: Platform, email: str = "plain@example.com") -> str:
    """A user without the admin role, and an API token of theirs."""
    signed = await platform.accounts.register(email, PASSWORD, "Plain")
    account = signed.account
    principal = Principal(account.tenant_id, account.id, frozenset(account.roles))
    return (await platform.identity.create_api_token(principal, "plain")).token


# -- the API ------------------------------------------------------------------------------------


async def test_non_admins_are_refused_with_a_sentence(console: Console) -> None:
    token = await plain_user(console.platform)
    async with httpx.AsyncClient(base_url=console.base_url + "/console/api") as client:
        for route in ROUTES:
            answer = await client.get(f"/monitor/{route}", headers=bearer(token))
            assert answer.status_code == 403, route
            body = answer.json()
            assert body["code"] == "ADMIN_REQUIRED"
            assert body["error"] == "Only an admin of your tenant can do this."
        answer = await client.post("/monitor/alerts/alert_x/acknowledge", headers=bearer(token))
        assert answer.status_code == 403
        # the admin is answered, with the checks made now
        health = (await client.get("/monitor/health", headers=bearer(console.token))).json()
    names = {c["name"]: c["status"] for c in health["components"]}
    assert {"database", "event_bus", "worker", "filesystem"} <= set(names)
    assert names["database"] == "healthy"
    assert health["status"] in ("healthy", "degraded")


async def test_request_log_lists_the_requests_made(console: Console) -> None:
    probe = f"/console/api/probe-{uuid.uuid4().hex[:8]}"
    made = [
        ("GET", "/console/api/monitor/alerts", 200),
        ("GET", probe, 404),
        ("DELETE", probe + "/again", 404),
    ]
    async with httpx.AsyncClient(base_url=console.base_url) as client:
        for method, path, status in made:
            answer = await client.request(method, path, headers=bearer(console.token))
            assert answer.status_code == status
        listed = await client.get("/console/api/monitor/requests", headers=bearer(console.token))
        assert listed.status_code == 200
        rows = listed.json()["requests"]
        # nothing but what was asked of this server, newest first
        assert [(r["method"], r["path"], r["status"]) for r in rows] == made[::-1]
        assert all(r["duration_ms"] >= 0 and r["request_id"] for r in rows)

        async def page(**query: str | int) -> dict:
            answer = await client.get(
                "/console/api/monitor/requests", params=query, headers=bearer(console.token)
            )
            assert answer.status_code == 200, answer.text
            return answer.json()

        client_errors = await page(status="4xx")
        assert [r["path"] for r in client_errors["requests"]] == [probe + "/again", probe]
        assert (await page(status="5xx"))["requests"] == []
        assert [r["path"] for r in (await page(path="/again"))["requests"]] == [probe + "/again"]
        first = await page(limit=1)
        assert first["has_more"] is True
        assert len(first["requests"]) == 1
        # the listing just made is a request too: paging counts it
        second = await page(limit=2, offset=1)
        assert second["offset"] == 1
        assert len(second["requests"]) == 2
        wrong = await client.get(
            "/console/api/monitor/requests", params={"status": "9xx"}, headers=bearer(console.token)
        )
        assert wrong.status_code == 400
        assert wrong.json()["error"]


async def test_another_tenant_reads_only_its_own(console: Console) -> None:
    async with httpx.AsyncClient(base_url=console.base_url + "/console/api") as client:
        await client.get("/monitor/alerts", headers=bearer(console.token))
        issued = await console.platform.api_tokens.issue_for_tenant("acme", "acme admin")
        theirs = bearer(issued.token)
        await client.get("/monitor/overview", headers=theirs)
        rows = (await client.get("/monitor/requests", headers=theirs)).json()["requests"]
        assert [r["path"] for r in rows] == ["/console/api/monitor/overview"]
        # alerts and the error log describe the whole server: the operator's alone
        assert (await client.get("/monitor/alerts", headers=theirs)).json() == {"alerts": []}
        errors = (await client.get("/monitor/errors", headers=theirs)).json()
        assert errors["errors"] == []


async def test_error_log_shows_logged_warnings(console: Console) -> None:
    marker = f"monitor probe {uuid.uuid4().hex[:8]}"
    logging.getLogger("menagerie.core.ops.probe").warning("%s went wrong", marker)
    async with httpx.AsyncClient(base_url=console.base_url + "/console/api") as client:
        answer = await client.get(
            "/monitor/errors", params={"level": "warning"}, headers=bearer(console.token)
        )
    assert answer.status_code == 200
    found = [e for e in answer.json()["errors"] if e["message"] == f"{marker} went wrong"]
    assert len(found) == 1
    assert found[0]["component"] == "ops"


# -- the page -----------------------------------------------------------------------------------


async def test_page_shows_health_and_figures_on_a_phone(page: Page, console: Console) -> None:
    await page.set_viewport_size({"width": 390, "height": 844})
    await sign_in(page, console, "/#/monitor")
    for name in ("database", "event_bus", "worker", "filesystem"):
        component = page.locator(f"#components li[data-name={name}]")
        await expect(component.locator(".badge")).to_have_text("healthy")
    await expect(page.locator("#overall")).to_have_text(re.compile(r"^(healthy|degraded)$"))
    for meter in ("#cpu", "#memory", "#disk"):
        await expect(page.locator(f"{meter} progress")).to_be_visible()
    await expect(page.locator("#traffic .bars")).to_be_attached()
    # nothing wider than the phone's screen
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390


async def test_request_log_shows_requests_and_filters(page: Page, console: Console) -> None:
    probe = f"/console/api/probe-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=console.base_url) as client:
        assert (await client.get(probe, headers=bearer(console.token))).status_code == 404
    await sign_in(page, console, "/#/monitor")
    rows = page.locator("#request-rows tr")
    await expect(rows.filter(has_text=probe)).to_have_count(1)
    await page.fill("#request-path", probe)
    await expect(rows).to_have_count(1)
    await expect(rows.first.locator(".code")).to_have_text("404")
    await page.select_option("#request-status", "2xx")
    await expect(rows).to_have_text(["No request matches."])
    await page.select_option("#request-status", "4xx")
    await expect(rows.first).to_contain_text(probe)


async def test_alerts_arrive_live_and_are_acknowledged(page: Page, console: Console) -> None:
    alerts = console.platform.alerts
    assert alerts is not None
    await sign_in(page, console)
    async with page.expect_response(lambda r: "/console/api/events" in r.url):
        await page.goto("/#/monitor")
    await page.wait_for_selector("#alerts li")
    # a real condition that holds on any machine: some of the disk is used
    alerts.thresholds = dataclasses.replace(alerts.thresholds, disk_percent=0.0)
    await alerts.check()
    raised = page.locator("#alerts li.alert", has_text="disk usage")
    await expect(raised).to_have_count(1)
    await raised.get_by_role("button", name="Acknowledge").click()
    await expect(raised).to_contain_text("Acknowledged")


async def test_non_admin_sees_no_monitoring(page: Page, console: Console) -> None:
    await plain_user(console.platform, "viewer@example.com")
    await page.goto("/")
    await page.fill("#email", "viewer@example.com")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#nav a[aria-current=page]")
    await expect(page.locator("#nav a", has_text="Monitoring")).to_have_count(0)
    answer = await page.evaluate(
        """async () => {
            const r = await fetch('/console/api/monitor/health');
            return {status: r.status, body: await r.json()};
        }"""
    )
    assert answer["status"] == 403
    assert answer["body"]["code"] == "ADMIN_REQUIRED"
    assert answer["body"]["error"] == "Only an admin of your tenant can do this."
