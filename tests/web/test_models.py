"""The models page: the catalogue with each model's availability (filtered), the usage chart
after a chat turn, quotas, and the managed endpoints (admins wake them and see the outcome
arrive live; others see no controls, and the API refuses them); at the API, usage buckets
count what the ledger holds, for the caller's tenant only."""

from __future__ import annotations

import sys

import httpx
import pytest
from playwright.async_api import Page, expect

from menagerie.core.agents.runtime import TurnRequest
from menagerie.core.clock import iso, utcnow
from menagerie.core.identity.models import Principal
from menagerie.core.llm.providers.offline import MODEL
from menagerie.core.llm.usage import UsageRecord
from menagerie.core.processes import free_port
from menagerie.platform import Platform
from menagerie.settings import EndpointSettings, Settings
from tests.utils.principals import admin, other_tenant
from tests.web.conftest import Console, sign_in

API = "/console/api"
ENDPOINT = "gpu-box"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A managed endpoint whose server exits at once (a wake fails quickly and says why),
    and a monthly quota on the offline provider."""
    endpoint = EndpointSettings(
        name=ENDPOINT,
        model="llama-test",
        command=[sys.executable, "-c", "raise SystemExit(3)"],
        port=free_port(),
    )
    # chats stay on the offline model: the endpoint would otherwise be the primary one
    changes = {"llm_endpoints": [endpoint], "llm_quotas": {"offline": 1_000_000}}
    return settings.model_copy(update={**changes, "llm_primary_model": MODEL})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def plain_user_token(platform: Platform) -> str:
    """A user of the default tenant who is not an admin, and an API token of theirs."""
    signed_up = await platform.accounts.register("reader@example.com", "SecurePassword123")
    account = signed_up.account
    issued = await platform.identity.create_api_token(
        Principal(account.tenant_id, account.id), "console"
    )
    return issued.token


async def test_the_catalogue_lists_the_offline_model_as_available(
    page: Page, console: Console
) -> None:
    await sign_in(page, console, "/#/models")
    offline = page.locator(f'#catalogue tr[data-model="{MODEL}"]')
    await expect(offline.locator(".badge")).to_have_text("available")
    gpt = page.locator('#catalogue tr[data-model="gpt-4o"]')
    await expect(gpt.locator(".badge")).to_have_text("unavailable")
    await expect(gpt.locator(".reason")).to_contain_text("Provider openai is not configured")
    await expect(gpt).to_contain_text("$2.50")  # per million input tokens

    await page.check("#model-available")
    await expect(gpt).to_have_count(0)
    await expect(offline).to_be_visible()
    await page.uncheck("#model-available")
    await page.select_option("#model-provider", "openai")
    await expect(offline).to_have_count(0)
    await page.fill("#model-filter", "mini")
    await expect(gpt).to_have_count(0)
    await expect(page.locator('#catalogue tr[data-model="gpt-4o-mini"]')).to_be_visible()
    for model in await page.locator("#catalogue tr[data-model]").all():
        assert "mini" in (await model.get_attribute("data-model") or "")


async def test_the_usage_chart_shows_a_chat_turn(page: Page, console: Console) -> None:
    me = admin(console.platform)
    await console.platform.agents.complete(me, TurnRequest(agent="mama-bear", message="hi"))

    await sign_in(page, console, "/#/models")
    bars = page.locator("#usage-chart rect.bar")
    await expect(bars).to_have_count(24)  # the hours of a day
    used = page.locator('#usage-chart rect.bar:not([data-value="0"])')
    await expect(used).to_have_count(1)
    assert int(await used.get_attribute("data-value") or 0) > 0
    await expect(page.locator("#usage-totals")).to_contain_text("1 request")

    await page.get_by_text("Month", exact=True).click()
    await expect(bars).to_have_count(30)
    await expect(used).to_have_count(1)
    quota = page.locator('#quotas li[data-provider="offline"]')
    await expect(quota).to_contain_text("of 1,000,000 tokens left")
    assert float(await quota.locator("progress").get_attribute("value") or 0) > 0


async def test_an_admin_wakes_an_endpoint_and_sees_it_fail_live(
    page: Page, console: Console
) -> None:
    await sign_in(page, console, "/#/models")
    endpoint = page.locator(f'#endpoints li[data-endpoint="{ENDPOINT}"]')
    await expect(endpoint.locator(".badge")).to_have_text("sleeping")
    await expect(endpoint.get_by_role("button", name=f"Put {ENDPOINT} to sleep")).to_be_disabled()
    await endpoint.get_by_role("button", name=f"Wake {ENDPOINT}").click()
    # the server exits at once: the failure arrives on the page by itself, with its reason
    await expect(endpoint.locator(".badge")).to_have_text("failed")
    await expect(endpoint.locator(".error")).to_contain_text("exited")


async def test_a_user_who_is_not_an_admin_sees_no_endpoint_controls(
    page: Page, console: Console
) -> None:
    token = await plain_user_token(console.platform)
    await page.goto("/#/models")
    await page.fill("#token", token)
    await page.click("button[type=submit]")
    endpoint = page.locator(f'#endpoints li[data-endpoint="{ENDPOINT}"]')
    await expect(endpoint.locator(".badge")).to_have_text("sleeping")
    await expect(endpoint.get_by_role("button")).to_have_count(0)
    await expect(page.locator("#models-endpoints")).to_contain_text("Only an admin can wake")

    url = f"{console.base_url}{API}/models/endpoints/{ENDPOINT}"
    async with httpx.AsyncClient(headers=bearer(token)) as http:
        for action in ("wake", "sleep"):
            refused = await http.post(f"{url}/{action}")
            assert refused.status_code == 403
            assert refused.json()["code"] == "ADMIN_REQUIRED"
            assert refused.json()["error"] == "Only an admin of your tenant can do this."
    assert console.platform.endpoints.status(ENDPOINT).status == "sleeping"


async def test_usage_buckets_count_the_callers_tenant_only(console: Console) -> None:
    platform = console.platform
    mine = platform.settings.default_tenant
    stranger = await other_tenant(platform)
    issued = await platform.api_tokens.issue_for_tenant(stranger.tenant_id, "acme console")
    now = utcnow()
    for tenant, tokens, cost in ((mine, 10, 0.25), (mine, 20, 0.5), (stranger.tenant_id, 7, 1.0)):
        platform.llm.ledger.record(
            UsageRecord(
                tenant, None, "gpt-4o", "openai", tokens, tokens, cost, 5.0, "ok", None, now
            )
        )

    url = f"{console.base_url}{API}/models/usage"
    async with httpx.AsyncClient() as http:
        day = (await http.get(url, headers=bearer(console.token))).json()
        week = await http.get(url, params={"period": "week"}, headers=bearer(console.token))
        theirs = (await http.get(url, headers=bearer(issued.token))).json()
        bad = await http.get(url, params={"period": "year"}, headers=bearer(console.token))

    assert (day["step"], len(day["buckets"])) == ("hour", 24)
    hour = iso(now.replace(minute=0, second=0, microsecond=0))
    (held,) = [b for b in day["buckets"] if b["tokens"]]  # one bucket holds both calls
    assert held["start"] == hour
    assert (held["requests"], held["tokens"], held["cost"]) == (2, 60, 0.75)
    assert (day["total_requests"], day["total_tokens"], day["total_cost"]) == (2, 60, 0.75)
    assert week.json()["step"] == "day"
    assert [b["tokens"] for b in week.json()["buckets"] if b["tokens"]] == [60]
    assert (theirs["total_requests"], theirs["total_tokens"]) == (1, 14)
    assert bad.status_code == 400
    assert "period" in bad.json()["error"]
