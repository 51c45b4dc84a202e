"""A tool call round trip: through `POST /podplay/api/mcp/execute/{server}`, and directly.

Baseline, measured in the same run: the same `echo` tool of
`@modelcontextprotocol/server-everything` (stdio) called with the official SDK on a session
this process keeps open. Then the same call through Menagerie, a uvicorn process of its own
holding its own long-lived session to its own copy of the server, driven over HTTP:

- **added p50 / p99** at concurrency 1: Menagerie's HTTP round trip minus the direct call
  (target: under 3 ms at p50);
- **calls per second** at concurrency 16, both ways.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from mcp import Client, StdioServerParameters
from rich.table import Table

from bench.checks import load_failure, require_no_failures, sized
from bench.gateway import server_env
from bench.load import LoadResult, percentile, run_load
from bench.middleware import start_server, stop_server, wait_ready
from menagerie.core.tools.catalog import Catalog
from menagerie.core.tools.installer import PackageInstaller
from menagerie.core.tools.launch import base_environment

TITLE = "An MCP tool call, through Menagerie and directly"
SERVER = "server-everything"
PATH = f"/podplay/api/mcp/execute/{SERVER}"
BODY = json.dumps({"tool_name": "echo", "parameters": {"message": "bench"}}).encode()
SERIAL_CALLS = sized(400, 5)
CONCURRENCY = sized(16, 4)
CONCURRENT_CALLS = sized(1600, 8)
WARMUP = sized((20, 50), (1, 1))  # direct, through Menagerie
# shared with the test suite's cache, so that a run after the tests downloads nothing
PACKAGES_DIR = Path(__file__).resolve().parents[1] / ".pytest-mcp-packages"
TARGET_ADDED_P50_MS = 3.0


async def _nothing(progress: int, step: str) -> None:
    return None


async def _direct(workdir: Path) -> tuple[list[float], float]:
    """Latencies of serial calls (ms) and calls/s at concurrency 16, on one open session."""
    package = Catalog.load().get(SERVER).packages[0]
    home = await PackageInstaller(PACKAGES_DIR).install(package, _nothing, user="bench")
    params = StdioServerParameters(
        command=str(home.executable("mcp-server-everything")),
        args=["stdio"],
        env=base_environment(home.bin_dir, workdir),
    )
    async with Client(params) as client:
        for _ in range(WARMUP[0]):
            await client.call_tool("echo", {"message": "warm"})
        serial = []
        for _ in range(SERIAL_CALLS):
            started = time.perf_counter()
            await client.call_tool("echo", {"message": "bench"})
            serial.append((time.perf_counter() - started) * 1000)

        async def worker(count: int) -> None:
            for _ in range(count):
                await client.call_tool("echo", {"message": "bench"})

        started = time.perf_counter()
        await asyncio.gather(*(worker(CONCURRENT_CALLS // CONCURRENCY) for _ in range(CONCURRENCY)))
        rate = CONCURRENT_CALLS / (time.perf_counter() - started)
    return sorted(serial), rate


def _install(base_url: str, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30, trust_env=False) as http:
        http.post("/podplay/api/mcp/install", json={"server_name": SERVER}).raise_for_status()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            servers = http.get("/podplay/api/mcp/installed").json()["servers"]
            if servers and servers[0]["status"] == "running":
                return
            if servers and servers[0]["status"] == "failed":
                raise RuntimeError(f"installing {SERVER} failed: {servers[0]}")
            time.sleep(0.2)
    raise RuntimeError(f"{SERVER} did not start within 300 s")


async def _through(base_url: str, key: str) -> tuple[LoadResult, LoadResult]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    async def load(total: int, concurrency: int) -> LoadResult:
        return await run_load(
            base_url, PATH, total, concurrency, method="POST", body=BODY, headers=headers,
            engine="raw", deadline_s=120,
        )  # fmt: skip

    warmup = await load(WARMUP[1], 1)
    one, many = await load(SERIAL_CALLS, 1), await load(CONCURRENT_CALLS, CONCURRENCY)
    require_no_failures(
        "mcp",
        (
            load_failure("warm-up through Menagerie", warmup),
            load_failure("serial calls through Menagerie", one),
            load_failure(f"calls at {CONCURRENCY} through Menagerie", many),
        ),
    )
    return one, many


def run() -> Table:
    key = f"mk-bench-{secrets.token_hex(16)}"
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="menagerie-bench-")))
        (tmp / "data").mkdir()
        serial, direct_rate = asyncio.run(_direct(tmp))
        server = start_server(
            "menagerie",
            "bench._serve_mcp:create_menagerie",
            env=server_env(
                {
                    "BENCH_DATA_DIR": str(tmp / "data"),
                    "BENCH_MASTER_KEY": key,
                    "BENCH_PACKAGES_DIR": str(PACKAGES_DIR),
                }
            ),
            cwd=tmp,
            log_dir=tmp,
        )
        stack.callback(stop_server, server)
        wait_ready(server, "/gary/health/live")
        _install(server.base_url, key)
        one, many = asyncio.run(_through(server.base_url, key))
    direct_p50, direct_p99 = statistics.median(serial), percentile(serial, 99)
    table = Table(title=f"{TITLE} ({SERVER} echo, stdio)")
    for column in ("case", "p50 ms", "p99 ms", "calls/s at 16", "x direct"):
        table.add_column(column, justify="right")
    table.add_row(
        "direct SDK call (baseline)",
        f"{direct_p50:.2f}",
        f"{direct_p99:.2f}",
        f"{direct_rate:.0f}",
        "1.0x",
    )
    table.add_row(
        "POST /podplay/api/mcp/execute",
        f"{one.p50_ms:.2f}",
        f"{one.p99_ms:.2f}",
        f"{many.throughput:.0f}",
        f"{one.p50_ms / direct_p50:.1f}x",
    )
    added = one.p50_ms - direct_p50
    verdict = "met" if added < TARGET_ADDED_P50_MS else "missed"
    table.caption = (
        f"added p50 {added:.2f} ms, p99 {one.p99_ms - direct_p99:.2f} ms "
        f"(target < {TARGET_ADDED_P50_MS:g} ms p50: {verdict}); "
        f"throughput {many.throughput / direct_rate:.2f}x direct at concurrency {CONCURRENCY}"
    )
    return table
