"""The memories page: memories saved through core are listed, found by search (with their
relevance) and by category, their importance changed for good, deleted after a confirmation,
and pruned; at the API, another tenant's memory is a 404 and bad input a 400 with a sentence."""

from __future__ import annotations

from datetime import timedelta

import httpx
from playwright.async_api import Page, expect

from menagerie.core.clock import utcnow
from menagerie.core.memory.service import draft
from tests.utils.principals import admin, other_tenant
from tests.web.conftest import Console, sign_in

API = "/console/api"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_memories_are_listed_and_found_by_search_and_category(
    page: Page, console: Console
) -> None:
    me = admin(console.platform)
    memory = console.platform.memory
    tea = await memory.save(me, draft(category="facts", content="The user's teapot is blue"))
    await memory.save(me, draft(category="notes", content="Meeting moved to Thursday"))

    await sign_in(page, console, "/#/memories")
    cards = page.locator("#memories li.memory")
    await expect(cards).to_have_count(2)
    await expect(cards.first).to_contain_text("Meeting moved to Thursday")  # newest first
    await expect(page.locator("#memory-summary")).to_have_text("2 memories, newest first.")

    await page.fill("#memory-search", "teapot")
    await expect(cards).to_have_count(1)
    found = page.locator(f'#memories li[data-id="{tea.id}"]')
    await expect(found).to_contain_text("The user's teapot is blue")
    await expect(found.locator(".badge.relevance")).to_contain_text("% relevant")

    await page.fill("#memory-search", "")
    await expect(cards).to_have_count(2)
    await page.select_option("#memory-category", "notes")
    await expect(cards).to_have_count(1)
    await expect(cards.first).to_contain_text("Thursday")


async def test_importance_is_saved_and_a_memory_is_deleted(page: Page, console: Console) -> None:
    me = admin(console.platform)
    saved = await console.platform.memory.save(
        me, draft(category="facts", content="Prefers green tea", importance=0.5)
    )
    await sign_in(page, console, "/#/memories")
    card = page.locator(f'#memories li[data-id="{saved.id}"]')
    slider = card.locator("input[type=range]")
    await expect(slider).to_have_value("0.5")

    await slider.fill("0.9")
    await expect(card.locator(".saved")).to_have_text("Saved")
    await page.reload()
    await expect(slider).to_have_value("0.9")
    await expect(card.locator(".importance-value")).to_have_text("90%")
    assert (await console.platform.memory.get(me, saved.id)).importance == 0.9

    await card.get_by_role("button", name="Delete the memory").click()
    dialog = page.locator("dialog[open]")
    await expect(dialog).to_contain_text("Delete this memory?")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(card).to_be_visible()  # cancelled: still there

    await card.get_by_role("button", name="Delete the memory").click()
    await page.locator("dialog[open]").get_by_role("button", name="Delete").click()
    await expect(card).to_have_count(0)
    await page.reload()
    await expect(page.locator("#memories .empty")).to_contain_text("No memories yet")
    await expect(card).to_have_count(0)


async def test_prune_shows_how_many_were_removed_on_a_phone(page: Page, console: Console) -> None:
    me = admin(console.platform)
    memory = console.platform.memory
    past = utcnow() - timedelta(minutes=1)
    await memory.save(me, draft(category="notes", content="expired", expires_at=past))
    await memory.save(me, draft(category="notes", content="trivial", importance=0.1))
    kept = await memory.save(me, draft(category="notes", content="important", importance=0.8))

    await page.set_viewport_size({"width": 390, "height": 800})
    await sign_in(page, console, "/#/memories")
    await expect(page.locator("#memories li.memory")).to_have_count(2)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390

    await page.click("#prune-open")
    await page.fill("#prune-importance", "0.3")
    await page.click("#prune-run")
    await expect(page.locator("#prune-result")).to_have_text("Pruning removed 2 memories.")
    await expect(page.locator("#memories li.memory")).to_have_count(1)
    await expect(page.locator(f'#memories li[data-id="{kept.id}"]')).to_be_visible()


async def test_another_tenants_memory_is_not_found(console: Console) -> None:
    platform = console.platform
    mine = await platform.memory.save(admin(platform), draft(category="notes", content="mine"))
    stranger = await other_tenant(platform)
    theirs = await platform.api_tokens.issue_for_tenant(stranger.tenant_id, "acme console")
    url = f"{console.base_url}{API}/memories/{mine.id}"
    async with httpx.AsyncClient(headers=bearer(theirs.token)) as http:
        answers = [
            await http.get(url),
            await http.patch(url, json={"importance": 0.1}),
            await http.delete(url),
        ]
        listed = (await http.get(f"{console.base_url}{API}/memories")).json()
    for answer in answers:
        assert answer.status_code == 404
        assert answer.json()["code"] == "MEMORY_NOT_FOUND"
        assert answer.json()["error"] == f"Memory {mine.id} not found"
    assert (listed["total"], listed["memories"]) == (0, [])
    assert (await platform.memory.get(admin(platform), mine.id)).importance == 0.5


async def test_bad_input_is_a_400_with_a_sentence(console: Console) -> None:
    platform = console.platform
    saved = await platform.memory.save(admin(platform), draft(category="notes", content="x"))
    base = f"{console.base_url}{API}/memories"
    async with httpx.AsyncClient(headers=bearer(console.token)) as http:
        answers = {
            "importance": await http.patch(f"{base}/{saved.id}", json={"importance": 1.5}),
            "not a number": await http.patch(f"{base}/{saved.id}", json={"importance": "high"}),
            "no importance": await http.patch(f"{base}/{saved.id}", json={"content": "y"}),
            "limit": await http.get(base, params={"limit": 0}),
            "older_than_days": await http.post(
                f"{console.base_url}{API}/memory/prune", json={"older_than_days": 0}
            ),
        }
    for what, answer in answers.items():
        assert answer.status_code == 400, what
        body = answer.json()
        assert body["code"] == "INVALID_INPUT", what
        assert body["error"].startswith("Field "), what  # a sentence naming the field
        assert body["details"]["field"] in body["error"], what
    assert "importance" in answers["importance"].json()["error"]
    assert (await platform.memory.get(admin(platform), saved.id)).importance == 0.5
