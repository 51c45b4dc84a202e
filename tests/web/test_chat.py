"""The chat page in Chromium: sign in, stream an answer, reload into the history, Markdown
without raw HTML, retry after a refused turn, and a long session opened one page at a time."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from menagerie.core.agents.runtime import TurnRequest
from tests.utils.principals import admin
from tests.web.conftest import Console, sign_in

# counts the text the streaming answer showed before it was replaced by the stored one
STREAM_WATCH = """
window.__streamed = [];
new MutationObserver(() => {
  const body = document.querySelector("li.message.streaming .body");
  if (body && body.textContent && !window.__streamed.includes(body.textContent)) {
    window.__streamed.push(body.textContent);
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


async def send(page: Page, text: str) -> None:
    await page.fill("#message", text)
    await page.press("#message", "Enter")


async def test_sign_in_chat_streams_and_history_survives_a_reload(
    page: Page, console: Console
) -> None:
    await page.add_init_script(STREAM_WATCH)
    await sign_in(page, console)
    await send(page, "Tell me about otters")
    answer = page.locator("li.message.agent:not(.streaming)")
    await expect(answer).to_contain_text("Tell me about otters")
    streamed = await page.evaluate("window.__streamed")
    assert len(streamed) > 2, streamed  # the answer grew chunk by chunk before it was stored
    assert "/chat/sess_" in page.url

    await page.reload()
    await expect(page.locator("li.message.user")).to_have_text(re.compile("Tell me about otters"))
    await expect(page.locator("li.message.agent")).to_contain_text("offline model")
    await expect(page.locator("#sessions li")).to_have_count(1)
    await expect(page.locator("#sessions li")).to_contain_text("Tell me about otters")


async def test_markdown_is_rendered_and_raw_html_is_not(page: Page, console: Console) -> None:
    await sign_in(page, console)
    await send(page, "**bold** and <img src=x onerror=alert(1)> and [x](javascript:alert(1))")
    answer = page.locator("li.message.agent:not(.streaming) .body")
    await expect(answer.locator("strong")).to_have_text("bold")
    await expect(answer).to_contain_text("<img src=x onerror=alert(1)>")
    assert await page.locator("#messages img").count() == 0
    assert await page.locator('#messages a[href^="javascript"]').count() == 0


async def test_a_refused_turn_offers_retry_and_retry_answers(page: Page, console: Console) -> None:
    me = admin(console.platform)
    await console.platform.llm.quotas.set_limit(me.tenant_id, "offline", 1)
    await console.platform.agents.complete(me, TurnRequest(agent="mama-bear", message="use it up"))
    await sign_in(page, console)
    await send(page, "Are you there?")
    failed = page.locator("li.message.agent.failed")
    await expect(failed.locator(".error")).to_contain_text("quota")
    await expect(page.locator("li.message.user").last).to_contain_text("Are you there?")

    await console.platform.llm.quotas.set_limit(me.tenant_id, "offline", None)
    await failed.locator("button.retry").click()
    answer = page.locator("li.message.agent:not(.streaming):not(.failed)")
    await expect(answer).to_contain_text("Are you there?")
    await expect(page.locator("li.message.agent.failed")).to_have_count(0)


async def test_a_long_session_opens_with_one_page_and_pages_upward(
    page: Page, console: Console
) -> None:
    me = admin(console.platform)
    chat = console.platform.chat
    session = await chat.create_session(me, "mama-bear", title="A very long chat")
    await chat.import_messages(
        me,
        session.id,
        [("user" if n % 2 else "agent", f"old message {n}") for n in range(1, 10_001)],
    )
    await sign_in(page, console, f"/#/chat/{session.id}")
    await expect(page.locator("#messages li.message").last).to_contain_text("old message 10000")
    reads = [c for c in console.api_calls if c.startswith(f"/sessions/{session.id}/messages")]
    assert len(reads) == 1, reads
    assert await page.locator("#messages li.message").count() == 50

    await page.locator(".scroller").evaluate("el => el.scrollTop = 0")
    await expect(page.locator("#messages li.message")).to_have_count(100)
    await expect(page.locator("#messages li.message").first).to_contain_text("old message 9901")
    # the reader stays where they were: the newest message of the first page is still in view
    assert await page.locator(".scroller").evaluate("el => el.scrollTop") > 0
