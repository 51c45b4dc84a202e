"""A tool call round trip: through `POST /podplay/api/mcp/execute/{server}`, and directly.

Baseline, measured in the same run: the same `echo` tool of
`@modelcontextprotocol/server-everything` (stdio) called with the official SDK on a session
this process keeps open. Then the same call through Menagerie, a uvicorn process of its own
holding its own long-lived session to its own copy of the server, driven over HTTP. The two
alternate, round after round, so that a busy moment of the machine falls on both:

- **added p50 / p99** at concurrency 1: Menagerie's HTTP round trip minus the direct call
  (target: under 3 ms at p50), every round's calls pooled;
- **calls per second** at concurrency 16, both ways (the median round), and their ratio
  (goal: at least 0.5x direct);
- **CPU µs per call** at concurrency 16: of this process for the direct calls (the SDK's
  client side), of Menagerie's process for the calls through it. The servers' own CPU is in
  neither. On a shared two-core machine this is the figure to compare between runs: the
  throughput also depends on whatever else runs.

`python -m bench.mcp_calls --profile` shows where Menagerie's CPU goes instead: it serves
Menagerie in its own process, drives the calls from another, and prints per layer and per
function the CPU time of the serving thread (cProfile on the thread's CPU clock, scaled to the
CPU a call costs without the profiler).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, chdir
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import uvicorn
from mcp import Client, StdioServerParameters
from rich.table import Table

from bench.checks import load_failure, require_no_failures, sized
from bench.gateway import server_env
from bench.load import LoadResult, percentile, run_load
from bench.middleware import (
    REPO_ROOT,
    cpu_seconds,
    free_port,
    start_server,
    stop_server,
    wait_ready,
)
from menagerie.core.tools.catalog import Catalog
from menagerie.core.tools.installer import PackageInstaller
from menagerie.core.tools.launch import base_environment

TITLE = "An MCP tool call, through Menagerie and directly"
SERVER = "server-everything"
PATH = f"/podplay/api/mcp/execute/{SERVER}"
BODY = json.dumps({"tool_name": "echo", "parameters": {"message": "bench"}}).encode()
SERIAL_CALLS = sized(400, 5)  # per round
CONCURRENCY = sized(16, 4)
CONCURRENT_CALLS = sized(1600, 8)  # per round
ROUNDS = sized(3, 1)
WARMUP = sized((20, 50), (1, 1))  # direct, through Menagerie
# shared with the test suite's cache, so that a run after the tests downloads nothing
PACKAGES_DIR = REPO_ROOT / ".pytest-mcp-packages"
TARGET_ADDED_P50_MS = 3.0
GOAL_THROUGHPUT = 0.5


async def _nothing(progress: int, step: str) -> None:
    return None


@dataclass
class Figures:
    direct_serial_ms: list[float]
    direct_rates: list[float]
    direct_cpu_s: float  # this process, over every concurrent round
    through_serial_ms: list[float]
    through_rates: list[float]
    through_cpu_s: float  # Menagerie's process, over every concurrent round


async def _server_params(workdir: Path) -> StdioServerParameters:
    package = Catalog.load().get(SERVER).packages[0]
    home = await PackageInstaller(PACKAGES_DIR).install(package, _nothing, user="bench")
    return StdioServerParameters(
        command=str(home.executable("mcp-server-everything")),
        args=["stdio"],
        env=base_environment(home.bin_dir, workdir),
    )


async def _install(base_url: str, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, timeout=30, trust_env=False
    ) as http:
        answer = await http.post("/podplay/api/mcp/install", json={"server_name": SERVER})
        answer.raise_for_status()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            servers = (await http.get("/podplay/api/mcp/installed")).json()["servers"]
            if servers and servers[0]["status"] == "running":
                return
            if servers and servers[0]["status"] == "failed":
                raise RuntimeError(f"installing {SERVER} failed: {servers[0]}")
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{SERVER} did not start within 300 s")


async def _load(base_url: str, key: str, total: int, concurrency: int) -> LoadResult:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return await run_load(
        base_url, PATH, total, concurrency, method="POST", body=BODY, headers=headers,
        engine="raw", deadline_s=120,
    )  # fmt: skip


async def _direct_serial(client: Client) -> list[float]:
    latencies = []
    for _ in range(SERIAL_CALLS):
        started = time.perf_counter()
        await client.call_tool("echo", {"message": "bench"})
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def _direct_concurrent(client: Client) -> tuple[float, float]:
    """Calls per second at `CONCURRENCY` on the one session, and this process's CPU seconds."""

    async def worker(count: int) -> None:
        for _ in range(count):
            await client.call_tool("echo", {"message": "bench"})

    cpu, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(CONCURRENT_CALLS // CONCURRENCY) for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    return (CONCURRENT_CALLS // CONCURRENCY) * CONCURRENCY / elapsed, time.process_time() - cpu


async def _measure(base_url: str, key: str, menagerie: psutil.Process, workdir: Path) -> Figures:
    await _install(base_url, key)
    figures = Figures([], [], 0.0, [], [], 0.0)
    failures: list[str | None] = []
    async with Client(await _server_params(workdir)) as client:
        for _ in range(WARMUP[0]):
            await client.call_tool("echo", {"message": "warm"})
        warmup = await _load(base_url, key, WARMUP[1], 1)
        failures.append(load_failure("warm-up through Menagerie", warmup))
        for round_ in range(ROUNDS):
            figures.direct_serial_ms += await _direct_serial(client)
            one = await _load(base_url, key, SERIAL_CALLS, 1)
            failures.append(
                load_failure(f"serial calls through Menagerie (round {round_ + 1})", one)
            )
            figures.through_serial_ms += one.latencies_ms
            rate, cpu = await _direct_concurrent(client)
            figures.direct_rates.append(rate)
            figures.direct_cpu_s += cpu
            before = cpu_seconds(menagerie)
            many = await _load(base_url, key, CONCURRENT_CALLS, CONCURRENCY)
            figures.through_cpu_s += cpu_seconds(menagerie) - before
            failures.append(
                load_failure(f"calls at {CONCURRENCY} through Menagerie (round {round_ + 1})", many)
            )
            figures.through_rates.append(many.throughput)
    require_no_failures("mcp", failures)
    return figures


def _menagerie_env(data_dir: Path, key: str) -> dict[str, str]:
    return {
        "BENCH_DATA_DIR": str(data_dir),
        "BENCH_MASTER_KEY": key,
        "BENCH_PACKAGES_DIR": str(PACKAGES_DIR),
    }


def run() -> Table:
    key = f"mk-bench-{secrets.token_hex(16)}"
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="menagerie-bench-")))
        (tmp / "data").mkdir()
        server = start_server(
            "menagerie",
            "bench._serve_mcp:create_menagerie",
            env=server_env(_menagerie_env(tmp / "data", key)),
            cwd=tmp,
            log_dir=tmp,
        )
        stack.callback(stop_server, server)
        wait_ready(server, "/gary/health/live")
        process = psutil.Process(server.process.pid)
        figures = asyncio.run(_measure(server.base_url, key, process, tmp))
    return _table(figures)


def _table(figures: Figures) -> Table:
    direct = sorted(figures.direct_serial_ms)
    through = sorted(figures.through_serial_ms)
    direct_p50, direct_p99 = statistics.median(direct), percentile(direct, 99)
    through_p50, through_p99 = statistics.median(through), percentile(through, 99)
    direct_rate = statistics.median(figures.direct_rates)
    through_rate = statistics.median(figures.through_rates)
    calls = ROUNDS * (CONCURRENT_CALLS // CONCURRENCY) * CONCURRENCY
    ratio = through_rate / direct_rate
    table = Table(title=f"{TITLE} ({SERVER} echo, stdio; {ROUNDS} rounds)")
    for column in (
        "case",
        "p50 ms",
        "p99 ms",
        f"calls/s at {CONCURRENCY}",
        "x direct",
        "CPU µs/call",
    ):
        table.add_column(column, justify="right")
    table.add_row(
        "direct SDK call (baseline)",
        f"{direct_p50:.2f}",
        f"{direct_p99:.2f}",
        f"{direct_rate:.0f}",
        "1.00x",
        f"{figures.direct_cpu_s * 1e6 / calls:.0f}",
    )
    table.add_row(
        "POST /podplay/api/mcp/execute",
        f"{through_p50:.2f}",
        f"{through_p99:.2f}",
        f"{through_rate:.0f}",
        f"{ratio:.2f}x",
        f"{figures.through_cpu_s * 1e6 / calls:.0f}",
    )
    added = through_p50 - direct_p50
    latency = "met" if added < TARGET_ADDED_P50_MS else "missed"
    throughput = "met" if ratio >= GOAL_THROUGHPUT else "missed"
    table.caption = (
        f"added p50 {added:.2f} ms, p99 {through_p99 - direct_p99:.2f} ms at concurrency 1 "
        f"(target < {TARGET_ADDED_P50_MS:g} ms p50: {latency}); throughput {ratio:.2f}x direct "
        f"at concurrency {CONCURRENCY} (goal >= {GOAL_THROUGHPUT:g}x: {throughput}); CPU per "
        "call: the direct client's process, and Menagerie's (no MCP server's)"
    )
    return table


# -- the profile --------------------------------------------------------------------------------

_DRIVE = """
import asyncio, sys
from bench.mcp_calls import _load
url, key, total, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
result = asyncio.run(_load(url, key, total, concurrency))
print(f"{result.ok} ok, {result.errors} failed, {result.throughput:.0f} calls/s")
sys.exit(1 if result.errors else 0)
"""

# (layer, what a file path holds), the first that matches; C functions count in their caller's
LAYERS = (
    ("MCP SDK (client session, JSON-RPC, stdio)", ("/mcp/", "/mcp_types/")),
    ("Menagerie tools core", ("/menagerie/core/tools/",)),
    ("Menagerie HTTP (middleware, deps, route)", ("/menagerie/http/", "/menagerie/dialects/")),
    ("request log and other database writes", ("/sqlalchemy/", "/aiosqlite/", "/menagerie/storage/",
                                                "/menagerie/core/ops/logbook")),
    ("metrics and tracing", ("/prometheus_client/", "/opentelemetry/", "/menagerie/core/ops/")),
    ("FastAPI, Starlette, pydantic", ("/fastapi/", "/starlette/", "/pydantic/")),
    ("uvicorn (HTTP/1.1 server)", ("/uvicorn/",)),
    ("event loop, tasks, anyio streams", ("/asyncio/", "/anyio/", "/sniffio/", "/concurrent/",
                                          "/threading.py", "/contextvars", "/contextlib.py")),
)  # fmt: skip


def _layer(filename: str) -> str:
    path = filename.replace(os.sep, "/")
    for name, parts in LAYERS:
        if any(part in path for part in parts):
            return name
    return "other (Python's library, Menagerie's core)"


def _is_c(function: tuple[str, int, str]) -> bool:
    return function[0] == "~"


def _layers(stats: pstats.Stats) -> dict[str, float]:
    """Seconds of own time per layer; a C function's time goes to the layer of its callers."""
    totals: dict[str, float] = {}
    raw = stats.stats
    for function, (_, _, own, _, callers) in raw.items():
        if not _is_c(function):
            layer = _layer(function[0])
            totals[layer] = totals.get(layer, 0.0) + own
            continue
        shared = sum(entry[2] for entry in callers.values()) or 1.0
        for caller, entry in callers.items():
            layer = _layer(caller[0]) if not _is_c(caller) else "C functions called from C"
            totals[layer] = totals.get(layer, 0.0) + own * entry[2] / shared
    return totals


def _short(filename: str) -> str:
    """A file as its package names it: `fastapi/routing.py`, `asyncio/tasks.py`."""
    path = filename.replace(os.sep, "/")
    for marker in (
        "site-packages/",
        "/src/",
        f"/python{sys.version_info[0]}.{sys.version_info[1]}/",
    ):
        path = path.split(marker)[-1]
    return path


async def _drive(base_url: str, key: str, total: int, concurrency: int) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _DRIVE, base_url, key, str(total), str(concurrency),
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await process.communicate()
    if process.returncode:
        raise RuntimeError(f"the calls failed: {out.decode()[-2000:]}")
    return out.decode().strip()


async def _profile(
    server: uvicorn.Server, base_url: str, key: str, calls: int, concurrency: int
) -> tuple[str, float, pstats.Stats]:
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(600):  # a start in 30 s, or none
            if server.started:
                break
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError("Menagerie did not start within 30 s")
        await _install(base_url, key)
        await _drive(base_url, key, 200, concurrency)
        # the serving thread's CPU per call without the profiler, then where it goes with it
        started = time.thread_time()
        summary = await _drive(base_url, key, calls, concurrency)
        cpu_per_call = (time.thread_time() - started) / calls
        profiler = cProfile.Profile(time.thread_time)
        profiler.enable()
        try:
            await _drive(base_url, key, calls, concurrency)
        finally:
            profiler.disable()
        return summary, cpu_per_call, pstats.Stats(profiler)
    finally:
        server.should_exit = True
        await serving


def profile(calls: int, concurrency: int, top: int) -> str:
    """Markdown tables: the serving thread's CPU per call by layer, and the top functions."""
    key = f"mk-bench-{secrets.token_hex(16)}"
    with tempfile.TemporaryDirectory(prefix="menagerie-profile-") as tmp, chdir(tmp):
        (Path(tmp) / "data").mkdir()
        os.environ.update(_menagerie_env(Path(tmp) / "data", key))
        os.environ.setdefault("MENAGERIE_LOCAL_MODEL", "off")
        from bench._serve_mcp import create_menagerie

        port = free_port()
        config = uvicorn.Config(
            create_menagerie(), host="127.0.0.1", port=port, log_level="warning",
            access_log=False, server_header=False, loop="uvloop",
        )  # fmt: skip
        server = uvicorn.Server(config)
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            summary, cpu_per_call, stats = runner.run(
                _profile(server, f"http://127.0.0.1:{port}", key, calls, concurrency)
            )
    total = sum(entry[2] for entry in stats.stats.values())
    scale = cpu_per_call / total  # a share of the profiled time -> unprofiled seconds a call
    lines = [
        f"{SERVER} echo through `POST {PATH}` at concurrency {concurrency}: {summary}; the "
        f"serving thread's CPU {cpu_per_call * 1e6:.0f} µs per call without the profiler",
        "",
        "| layer | µs per call | share |",
        "|---|---:|---:|",
    ]
    for layer, seconds in sorted(_layers(stats).items(), key=lambda item: -item[1]):
        lines.append(f"| {layer} | {seconds * scale * 1e6:.0f} | {seconds / total:.0%} |")
    lines += ["", "| function (own time) | µs per call | share |", "|---|---:|---:|"]
    ranked = sorted(stats.stats.items(), key=lambda item: -item[1][2])
    for (filename, line, name), entry in ranked[:top]:
        label = name if filename == "~" else f"{name} ({_short(filename)}:{line})"
        lines.append(f"| {label} | {entry[2] * scale * 1e6:.0f} | {entry[2] / total:.1%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Where a tool call through Menagerie spends CPU")
    parser.add_argument("--profile", action="store_true", required=True)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(profile(args.calls, args.concurrency, args.top))


if __name__ == "__main__":
    main()
