"""The console in headless Chromium: a 10,000-message session against a fresh one.

Baseline, measured in the same run: opening a fresh session (two messages). Then opening a
session of 10,000 messages the same way. Each is timed in the browser, from the start of the
navigation to the first message drawn on screen (a MutationObserver in the page notes it),
with the browser's cache warm as a returning user's would be. Goals (issue 17): the long
session within 1.2x of the fresh one and under 300 ms; the first load of the console (cold
cache) under 300 KB of uncompressed bytes.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import statistics
import tempfile
from pathlib import Path

import uvicorn
from playwright.async_api import Page, async_playwright
from rich.table import Table

from bench.checks import BenchmarkFailed, sized
from menagerie.app import create_app
from menagerie.core.identity.models import ADMIN, Principal
from menagerie.platform import Platform
from menagerie.settings import Settings

TITLE = "The console in headless Chromium"
ROUNDS = sized(30, 2)
LONG = sized(10_000, 200)
LONG_CASE = f"{LONG:,} messages"
GOAL_MS = 300.0
GOAL_RATIO = 1.2
GOAL_BYTES = 300 * 1024

FIRST_MESSAGE = """
window.__firstMessage = null;
new MutationObserver((changes, observer) => {
  if (document.querySelector("#messages li.message")) {
    window.__firstMessage = performance.now();
    observer.disconnect();
  }
}).observe(document, {subtree: true, childList: true});
"""
BYTES = """() => performance.getEntriesByType("navigation").concat(
  performance.getEntriesByType("resource")).reduce((sum, e) => sum + (e.decodedBodySize || 0), 0)"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _open(page: Page, base: str, session_id: str) -> float:
    await page.goto("about:blank")  # a whole page load each time, not a change of hash
    await page.goto(f"{base}/#/chat/{session_id}")
    await page.wait_for_function("window.__firstMessage !== null", timeout=30_000)
    return float(await page.evaluate("window.__firstMessage"))


async def _seed(platform: Platform) -> tuple[str, str]:
    result = platform.bootstrap_result
    assert result is not None
    me = Principal(result.tenant_id, result.admin_user_id, frozenset({ADMIN}))
    fresh = await platform.chat.create_session(me, "mama-bear", title="fresh")
    await platform.chat.import_messages(me, fresh.id, [("user", "hello"), ("agent", "hi!")])
    long = await platform.chat.create_session(me, "mama-bear", title="long")
    lines = [
        ("user" if n % 2 else "agent", f"message {n}: " + "an old conversation " * 8)
        for n in range(LONG)
    ]
    await platform.chat.import_messages(me, long.id, lines)
    return fresh.id, long.id


async def _measure(data_dir: Path, chromium: str) -> tuple[dict[str, list[float]], int]:
    settings = Settings(
        data_dir=data_dir, log_level="WARNING", rate_limits_enabled=False, _env_file=None
    )
    platform = Platform.build(settings)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(platform=platform),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, no event)
        await asyncio.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    try:
        fresh, long = await _seed(platform)
        token = platform.bootstrap_result.admin_token  # type: ignore[union-attr]
        assert token is not None
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"]
            )
            context = await browser.new_context()
            page = await context.new_page()
            failures: list[str] = []
            page.on(
                "response",
                lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 400 else None,
            )
            await page.goto(base)
            await page.fill("#token", token.token)
            await page.click("button[type=submit]")
            await page.wait_for_selector("#view[aria-busy=false]")
            # everything the first visit fetched up to the chat page drawn: files and API
            first_load = int(await page.evaluate(BYTES))
            await page.add_init_script(FIRST_MESSAGE)
            results: dict[str, list[float]] = {
                "fresh session (baseline)": [],
                LONG_CASE: [],
            }
            for _ in range(ROUNDS):
                results["fresh session (baseline)"].append(await _open(page, base, fresh))
                results[LONG_CASE].append(await _open(page, base, long))
            await browser.close()
        # the sign-in screen's own 401 (`GET /session` before anyone signed in) is expected
        failures = [f for f in failures if not f.endswith("/console/api/session")]
        if failures:
            raise BenchmarkFailed("console", failures[:5])
        return results, first_load
    finally:
        server.should_exit = True
        await serving


def run() -> Table:
    chromium = shutil.which("chromium")
    if chromium is None:
        raise BenchmarkFailed("console", ["Chromium is not installed (apt-get install chromium)"])
    with tempfile.TemporaryDirectory(prefix="menagerie-bench-console-") as tmp:
        results, first_load = asyncio.run(_measure(Path(tmp) / "data", chromium))
    baseline = statistics.median(results["fresh session (baseline)"])
    table = Table(title=f"{TITLE} ({ROUNDS} opens each, first message on screen)")
    for column in ("case", "p50 ms", "p95 ms", "x baseline", "goal"):
        table.add_column(column, justify="right")
    for name, times in results.items():
        p50 = statistics.median(times)
        p95 = sorted(times)[int(0.95 * (len(times) - 1))]
        goal = "" if name.startswith("fresh") else f"≤ {GOAL_RATIO}x and < {GOAL_MS:.0f} ms"
        table.add_row(name, f"{p50:.1f}", f"{p95:.1f}", f"{p50 / baseline:.2f}x", goal)
    table.add_row(
        "first load, uncompressed",
        f"{first_load / 1024:.1f} KB",
        "",
        "",
        f"< {GOAL_BYTES // 1024} KB",
    )
    return table
