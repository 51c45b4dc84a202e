"""Every page of the console, opened the way a user would: a bounded number of API calls
however much there is to show (Open WebUI fires 60 to 100 on a reload), no script error, and
nothing wider than a phone's screen."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from menagerie.core.memory.models import MemoryDraft
from tests.utils.principals import admin
from tests.web.conftest import Console, sign_in

PAGES = ("chat", "memories", "tools", "models", "runs", "monitor")
MOST_CALLS = 8  # requests to /console/api while a page draws its first screen


async def _plenty(console: Console) -> None:
    """More of everything than fits on one screen, so a page that asks per item shows it."""
    platform, me = console.platform, admin(console.platform)
    for n in range(40):
        session = await platform.chat.create_session(me, "mama-bear", title=f"chat {n}")
        await platform.chat.import_messages(me, session.id, [("user", "hi"), ("agent", "hello")])
        await platform.memory.save(
            me, MemoryDraft(category="preference" if n % 2 else "fact", content=f"memory {n}")
        )


@pytest.mark.parametrize("width", [1280, 390])
async def test_each_page_loads_with_few_calls_no_errors_and_fits(
    page: Page, console: Console, width: int
) -> None:
    await _plenty(console)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.set_viewport_size({"width": width, "height": 800})
    await sign_in(page, console)
    for name in PAGES:
        before = len(console.api_calls)
        await page.goto(f"/#/{name}")
        await page.wait_for_selector(f"#view[aria-busy=false] section.page-{name}")
        calls = console.api_calls[before:]
        assert len(calls) <= MOST_CALLS, (name, calls)
        assert not await page.locator("#view .error").count(), (
            name,
            await page.locator("#view .error").all_inner_texts(),
        )
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (name, width, overflow)
    assert not errors, errors
