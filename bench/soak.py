"""A soak: chat, MCP tool calls, memory search and health for minutes, and the server's
resident memory and open file descriptors over time.

One `uvicorn` process of Menagerie (SQLite, the offline model, `server-everything` installed
over stdio) is driven by eight clients at once, each going round the mix. Every few seconds
the server process's RSS and open file descriptors are sampled with psutil. The baseline is
the server itself, at the end of its warm-up (minute 2, or 40 % of a shorter run): the goal
(issue 18) is growth under 5 % from there to the end, in RSS and in descriptors. LiteLLM's
proxy leaks memory under the same kind of load (its issues #12685, #15128).

`MENAGERIE_SOAK_MINUTES` sets the length (default 5).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from pathlib import Path

import httpx
import psutil
from rich.table import Table

from bench.checks import BenchmarkFailed, sized
from bench.gateway import server_env
from bench.mcp_calls import PACKAGES_DIR, _install
from bench.middleware import start_server, stop_server, wait_ready

TITLE = "Soak: chat, MCP calls, memory search and health"
MINUTES = float(os.environ.get("MENAGERIE_SOAK_MINUTES", "") or sized(5.0, 0.25))
CLIENTS = 8
SAMPLE_S = sized(5.0, 1.0)
GOAL_GROWTH = 0.05
WORDS = ["otters", "python", "lisbon", "gardening", "jazz", "chess", "rain", "tea"]


def _mix(client: httpx.AsyncClient) -> list[Callable[[int], Awaitable[httpx.Response]]]:
    def chat(n: int) -> Awaitable[httpx.Response]:
        message = f"I like {WORDS[n % len(WORDS)]} and my lucky number is {n}"
        return client.post("/podplay/api/chat/mama-bear", json={"message": message})

    def tool(n: int) -> Awaitable[httpx.Response]:
        body = {"tool_name": "echo", "parameters": {"message": f"soak {n}"}}
        return client.post("/podplay/api/mcp/execute/server-everything", json=body)

    def search(n: int) -> Awaitable[httpx.Response]:
        # the master key acts as the user "master": the chats above remember for it
        params = {"search": WORDS[n % len(WORDS)], "user_id": "master"}
        return client.get("/podplay/api/chat/memories", params=params)

    def health(n: int) -> Awaitable[httpx.Response]:
        return client.get("/podplay/api/health")

    return [chat, tool, search, health]


async def _drive(base_url: str, key: str, process: psutil.Process) -> tuple[list, dict]:
    samples: list[tuple[float, int, int]] = []  # (seconds, rss bytes, open fds)
    counts = {"requests": 0, "errors": 0}
    failures: list[str] = []
    started = time.monotonic()
    end = started + MINUTES * 60
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, timeout=30, limits=limits, trust_env=False
    ) as client:
        mix = _mix(client)
        numbers = itertools.count()

        async def worker(offset: int) -> None:
            for step in itertools.count(offset):
                if time.monotonic() >= end:
                    return
                n = next(numbers)
                try:
                    answer = await mix[step % len(mix)](n)
                    ok = answer.is_success
                    if not ok and len(failures) < 5:
                        failures.append(
                            f"{answer.request.url.path}: {answer.status_code} {answer.text[:1500]}"
                        )
                except httpx.HTTPError as error:
                    ok = False
                    if len(failures) < 5:
                        failures.append(f"{type(error).__name__}: {error}")
                counts["requests"] += 1
                counts["errors"] += 0 if ok else 1

        async def sampler() -> None:
            while time.monotonic() < end:
                samples.append(
                    (time.monotonic() - started, process.memory_info().rss, process.num_fds())
                )
                await asyncio.sleep(SAMPLE_S)
            samples.append(
                (time.monotonic() - started, process.memory_info().rss, process.num_fds())
            )

        await asyncio.gather(sampler(), *(worker(i) for i in range(CLIENTS)))
    if counts["errors"]:
        raise BenchmarkFailed(
            "soak", [f"{counts['errors']} of {counts['requests']} failed", *failures]
        )
    return samples, counts


def _growth(samples: list[tuple[float, int, int]]) -> tuple[float, float, float]:
    """Warm-up end (s) and growth of RSS and of descriptors from there to the end."""
    total = samples[-1][0]
    warm_at = 120.0 if total > 200 else total * 0.4
    warm = next(s for s in samples if s[0] >= warm_at)
    last = samples[-1]
    return warm[0], (last[1] - warm[1]) / warm[1], (last[2] - warm[2]) / max(warm[2], 1)


def run() -> Table:
    key = f"mk-bench-{secrets.token_hex(16)}"
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="menagerie-soak-")))
        (tmp / "data").mkdir()
        server = start_server(
            "menagerie",
            "bench._serve_mcp:create_menagerie",
            env=server_env(
                {
                    "BENCH_DATA_DIR": str(tmp / "data"),
                    "BENCH_MASTER_KEY": key,
                    "BENCH_PACKAGES_DIR": str(PACKAGES_DIR),
                    "MENAGERIE_OFFLINE_TOKEN_DELAY_MS": "0",
                }
            ),
            cwd=tmp,
            log_dir=tmp,
        )
        stack.callback(stop_server, server)
        wait_ready(server, "/gary/health/live")
        _install(server.base_url, key)
        process = psutil.Process(server.process.pid)
        samples, counts = asyncio.run(_drive(server.base_url, key, process))
    warm_s, rss_growth, fd_growth = _growth(samples)
    table = Table(
        title=f"{TITLE} ({MINUTES:g} min, {CLIENTS} clients, {counts['requests']:,} requests)"
    )
    for column in ("minute", "RSS MB", "open fds"):
        table.add_column(column, justify="right")
    shown: set[int] = set()
    for index, (at, rss, fds) in enumerate(samples):
        minute = int(at // 60)
        if minute not in shown or index == len(samples) - 1:
            shown.add(minute)
            table.add_row(f"{at / 60:.1f}", f"{rss / 2**20:.1f}", str(fds))
    verdict = "met" if rss_growth < GOAL_GROWTH and fd_growth < GOAL_GROWTH else "missed"
    table.caption = (
        f"from {warm_s / 60:.1f} min (warm, the baseline) to the end: RSS {rss_growth:+.1%}, "
        f"descriptors {fd_growth:+.1%}; goal under +{GOAL_GROWTH:.0%} each: {verdict}"
    )
    return table
