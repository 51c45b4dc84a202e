"""The console in a real browser: Debian's Chromium driven by Playwright, against the real
server on a loopback port. A failing test leaves a screenshot in its temporary directory."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from menagerie.app import create_app
from menagerie.platform import Platform
from tests.utils.databases import IN_CI
from tests.utils.server import serve

CHROMIUM = os.environ.get("MENAGERIE_TEST_CHROMIUM") or shutil.which("chromium")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
async def database_url(tmp_path: Path) -> str:
    """SQLite: the pages are under test here; both engines are covered beneath them."""
    return f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if CHROMIUM is None:
        if IN_CI:
            pytest.fail("Chromium is required under CI (apt-get install chromium)")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class Console:
    """The running server, its platform, and the admin token its first start printed."""

    base_url: str
    platform: Platform
    token: str
    api_calls: list[str] = field(default_factory=list)


@pytest.fixture
async def console(started_platform: Platform) -> AsyncIterator[Console]:
    result = started_platform.bootstrap_result
    assert result is not None
    assert result.admin_token is not None
    async with serve(create_app(platform=started_platform)) as base_url:
        yield Console(base_url, started_platform, result.admin_token.token)


@pytest.fixture
async def page(
    browser: Browser, console: Console, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Page]:
    context = await browser.new_context(base_url=console.base_url)
    opened = await context.new_page()
    opened.set_default_timeout(15_000)

    def count(request_: object) -> None:
        url = getattr(request_, "url", "")
        if "/console/api/" in url:
            console.api_calls.append(url.split("/console/api", 1)[1])

    opened.on("request", count)
    try:
        yield opened
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            await opened.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        await context.close()


async def sign_in(page: Page, console: Console, path: str = "/") -> None:
    """Open the console and sign in with the admin token, as a new user would; returns once
    the page has drawn its first screen."""
    await page.goto(path)
    await page.fill("#token", console.token)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#view[aria-busy=false]")
