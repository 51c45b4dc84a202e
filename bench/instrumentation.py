"""Cost of instrumentation: the gateway's CPU per request with metrics and tracing on, and off.

Two Menagerie gateways (`bench/_serve_gateway.py`, each with its own SQLite data directory)
answer the same chat request routed to the same fake upstream, one with
`metrics_enabled`/`tracing_enabled` on (the default: Prometheus counters and histograms per
request and model call, an OpenTelemetry span per request and model call kept in the span
store), the other with both off. Same load, same rounds, alternating which goes first; the
figure to read is each gateway process's own CPU per request and their ratio (the issue's goal:
under 5% added). A request that fails fails the benchmark: a cheap error is no measurement.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path

import psutil
from rich import box
from rich.table import Table

from bench.bare_app import LIVE_PATH
from bench.checks import BenchmarkFailed, sized
from bench.gateway import (
    MODEL,
    UPSTREAM_LATENCY_S,
    Case,
    Mode,
    Target,
    _uvloop,
    check_answers,
    measure,
    server_env,
    start_upstream,
    wait_upstream,
)
from bench.middleware import start_server, stop_server, wait_ready

TITLE = "Cost of instrumentation (metrics and tracing on vs off)"
CONCURRENCY = sized(32, 4)
REQUESTS = sized(1200, 8)
ROUNDS = sized(3, 1)
GOAL_ADDED = 0.05  # the goal: under 5% more CPU per request

ON_JSON = Mode("on JSON", True, False)
OFF_JSON = Mode("off JSON", True, False)
ON_STREAM = Mode("on stream", True, True)
OFF_STREAM = Mode("off stream", True, True)
PAIRS = ((ON_JSON, OFF_JSON), (ON_STREAM, OFF_STREAM))


def check(cases: Mapping[tuple[int, Mode], Case]) -> None:
    """Every request answered: otherwise the CPU per request measures failures."""
    failed = [
        f"{mode.name}: {case.errors} failed of {case.requested}"
        for (_, mode), case in cases.items()
        if case.errors or case.ok == 0
    ]
    if failed:
        raise BenchmarkFailed("instrumentation", failed)


def build_table(cases: Mapping[tuple[int, Mode], Case], rounds: int) -> Table:
    table = Table(
        title=f"{TITLE}: POST /v1/chat/completions at concurrency {CONCURRENCY}",
        caption=(
            f"CPU: each gateway process's own user+system µs per request over {rounds} rounds "
            f"(fake upstream {UPSTREAM_LATENCY_S * 1000:.0f} ms). ratio: on / off; goal: added "
            f"< {GOAL_ADDED:.0%} (information, not asserted)."
        ),
        caption_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for name in ("kind", "instrumentation", "req/s", "p50", "p99", "CPU µs/req", "ratio", "added"):
        table.add_column(name, justify="right" if name not in ("kind",) else "left")
    for on, off in PAIRS:
        base = cases[(CONCURRENCY, off)]
        for mode in (off, on):
            case = cases[(CONCURRENCY, mode)]
            ratio = case.cpu_us_per_request / base.cpu_us_per_request
            added = ratio - 1
            colour = "green" if added < GOAL_ADDED else "red"
            table.add_row(
                "stream" if mode.stream else "JSON",
                mode.name.split()[0],
                f"{case.throughput:,.0f}",
                f"{case.p50_ms:.1f}",
                f"{case.p99_ms:.1f}",
                f"{case.cpu_us_per_request:,.0f}",
                f"{ratio:.3f}" if mode is on else "",
                f"[{colour}]{added:+.1%}[/{colour}]" if mode is on else "",
            )
    return table


def run(requests: int = REQUESTS, rounds: int = ROUNDS) -> Table:
    upstream_key = f"sk-bench-{secrets.token_hex(12)}"
    master_key = f"mk-bench-{secrets.token_hex(16)}"
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="menagerie-bench-")))
        upstream = start_upstream(stack, upstream_key, tmp)
        gateways = {}
        for switch in ("on", "off"):
            data_dir = tmp / f"data-{switch}"
            data_dir.mkdir()
            server = start_server(
                f"menagerie-{switch}",
                "bench._serve_gateway:create_gateway",
                env=server_env(
                    {
                        "BENCH_FAKE_KEY": upstream_key,
                        "BENCH_DATA_DIR": str(data_dir),
                        "BENCH_MASTER_KEY": master_key,
                        "BENCH_OPENAI_BASE_URL": f"{upstream.base_url}/v1",
                        "BENCH_MODEL": MODEL,
                        "BENCH_INSTRUMENTATION": switch,
                    }
                ),
                cwd=tmp,
                log_dir=tmp,
            )
            stack.callback(stop_server, server)
            gateways[switch] = server
        # all three start at once (the gateways call the upstream only when asked to)
        wait_upstream(upstream, upstream_key)
        for server in gateways.values():
            wait_ready(server, LIVE_PATH)
        headers = {"Authorization": f"Bearer {master_key}", "Content-Type": "application/json"}
        targets = {}
        for on, off in PAIRS:
            for mode, switch in ((on, "on"), (off, "off")):
                server = gateways[switch]
                targets[mode] = Target(server.base_url, headers, psutil.Process(server.process.pid))
        check_answers(targets, (upstream, *gateways.values()))
        with asyncio.Runner(loop_factory=_uvloop()) as runner:
            cases = runner.run(
                measure(targets, (CONCURRENCY,), {CONCURRENCY: requests}, rounds, "instrumentation")
            )
    check(cases)
    return build_table(cases, rounds)
