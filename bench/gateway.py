"""Overhead of the LLM gateway: the same fake upstream called directly and through Menagerie.

The upstream is the test suite's fake OpenAI server (`tests/utils/fake_llm.py`) with a fixed
latency before every answer. It is called two ways with the same chat request, as JSON and as
a server-sent event stream:

- **direct**: `POST {upstream}/v1/chat/completions` with the upstream's key;
- **gateway**: `POST {menagerie}/v1/chat/completions` with the admin API token printed at
  its first start (what a new user calls with) and the catalogue model `gpt-4o-mini`, which
  Menagerie routes to the same upstream as provider `openai`.

Upstream, Menagerie and the load generator are three processes, so that none of them shares
an event loop with another. The difference between a gateway row and the direct row of the
same kind is what the gateway adds: authentication, request validation, routing and the
quota check, the OpenAI SDK's call to the upstream and the parsing of its answer, the usage
ledger, and the re-encoding of the answer for the client.

`run(peers=...)` adds other gateways in front of the same upstream (`bench/peers.py`: LiteLLM's
proxy), measured in the same rounds with the same client and request, each row against the
same direct row.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx
import psutil
from rich import box
from rich.table import Table

from bench.bare_app import LIVE_PATH
from bench.checks import load_failure, require_no_failures, sized
from bench.load import LoadResult, percentile, run_load
from bench.middleware import (
    READY_TIMEOUT_S,
    Server,
    cpu_seconds,
    start_server,
    stop_server,
    wait_ready,
)

TITLE = "Overhead of the LLM gateway"

UPSTREAM_LATENCY_S = 0.05
MODEL = "gpt-4o-mini"
CHAT_PATH = "/v1/chat/completions"
PROMPT = "Say hello to the benchmark"
CONCURRENCIES = sized((1, 32, 128), (4,))
# per load run; at 50 ms a request, concurrency 1 manages about 19 a second
REQUESTS = sized({1: 50, 32: 1200, 128: 2400}, {4: 8})
ROUNDS = sized(3, 1)
RUN_DEADLINE_S = 5.0  # 3 levels x 4 modes x 3 rounds stays under three minutes
# a slow answer is a measurement, not a failure: at 128 LiteLLM's queue reaches p99 of 7 s and
# more on two loaded cores, past bench.load's 10 s default
REQUEST_TIMEOUT_S = 30.0
WARMUP_REQUESTS = sized(300, 4)
WARMUP_CONCURRENCY = sized(32, 4)
# the goals (issue 16): what the gateway may add to the direct call, what it may cost
TARGET_CONCURRENCY = 32
GOAL_ADDED_P50_MS = 2.0  # at TARGET_CONCURRENCY
GOAL_ADDED_P99_MS = 10.0  # at TARGET_CONCURRENCY
SERIAL_CONCURRENCY = 1
GOAL_SERIAL_ADDED_P50_MS = 1.0  # at SERIAL_CONCURRENCY
GOAL_CPU_MS = 1.0  # Menagerie's own CPU per gateway request
LOADED_CONCURRENCY = 128
GOAL_THROUGHPUT_RATIO = 0.8  # gateway / direct req/s at LOADED_CONCURRENCY

# variables that would point either server elsewhere, or add a real provider to the chain
_SCRUBBED_PREFIXES = ("MENAGERIE_",)
_SCRUBBED = {
    "EMBLEM_DEV_MODE",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "TOGETHER_API_KEY",
    "TOGETHER_AI_API_KEY",
    "HUGGINGFACE_API_KEY",
    "HF_TOKEN",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
}


@dataclass(frozen=True)
class Mode:
    name: str
    via_gateway: bool  # through a gateway (Menagerie's or a peer's), not to the upstream itself
    stream: bool
    peer: str | None = None  # the peer gateway's name (bench/peers.py); None: Menagerie's

    @property
    def baseline(self) -> Mode:
        """The direct call of the same kind, which every gateway row is compared with."""
        return DIRECT_STREAM if self.stream else DIRECT_JSON

    @property
    def ours(self) -> bool:
        """Menagerie's own gateway row: the one the issue's goals are about."""
        return self.via_gateway and self.peer is None


DIRECT_JSON = Mode("direct JSON", False, False)
GATEWAY_JSON = Mode("gateway JSON", True, False)
DIRECT_STREAM = Mode("direct stream", False, True)
GATEWAY_STREAM = Mode("gateway stream", True, True)
MODES = (DIRECT_JSON, GATEWAY_JSON, DIRECT_STREAM, GATEWAY_STREAM)


def peer_modes(name: str) -> tuple[Mode, Mode]:
    """A peer gateway's JSON and stream modes."""
    return Mode(f"{name} JSON", True, False, name), Mode(f"{name} stream", True, True, name)


@dataclass(frozen=True)
class Target:
    """Where one mode's requests go."""

    base_url: str
    headers: Mapping[str, str]
    process: psutil.Process  # the server that answers them, for its CPU time
    # count its child processes' CPU too: a peer may fork workers, or helpers that do its work
    children: bool = False


@dataclass(frozen=True)
class Upstream:
    """The fake upstream, as a peer gateway is pointed at it."""

    base_url: str  # without `/v1`
    key: str


@dataclass(frozen=True)
class PeerServer:
    """A started peer gateway: its process, the headers that authenticate a client to it."""

    server: Server
    headers: Mapping[str, str]
    ready: Callable[[], None]  # returns once it answers; raises if it died or never does


class Peer(Protocol):
    """Another gateway to measure beside Menagerie (bench/peers.py)."""

    @property
    def name(self) -> str: ...

    def start(self, stack: ExitStack, upstream: Upstream, workdir: Path) -> PeerServer:
        """Start it in front of `upstream`, with its stop on `stack` (also run on error)."""
        ...


@dataclass(frozen=True)
class Case:
    """One (concurrency, mode) case, every round pooled."""

    ok: int
    requested: int
    errors: int
    timed_out: bool
    throughput: float  # successful requests per second, over all rounds
    p50_ms: float
    p99_ms: float
    ttft_p50_ms: float
    ttft_p99_ms: float
    cpu_us_per_request: float  # the answering server's own CPU per request


def server_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The parent's environment without Menagerie's settings, provider keys and proxies."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_SCRUBBED_PREFIXES) and key.upper() not in _SCRUBBED
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def chat_body(stream: bool) -> bytes:
    body: dict[str, object] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


def wait_upstream(server: Server, key: str, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Poll the fake upstream's `GET /v1/models` until it answers 200."""
    deadline = time.monotonic() + timeout_s
    last_error = "no answer yet"
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server.base_url, timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"{server.name} exited with {server.process.returncode} before it was ready:"
                    f"\n{server.log_tail()}"
                )
            try:
                response = client.get("/v1/models", headers=headers)
            except httpx.TransportError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    return
                last_error = f"HTTP {response.status_code}: {response.text[:200]}"
            time.sleep(0.1)
    raise RuntimeError(
        f"{server.name} not ready after {timeout_s:.0f} s ({last_error}):\n{server.log_tail()}"
    )


def check_answers(targets: Mapping[Mode, Target], logs: Sequence[Server]) -> None:
    """One request of each mode, whose answer must echo the prompt: the path really works."""
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        for mode, target in targets.items():
            response = client.post(
                target.base_url + CHAT_PATH,
                content=chat_body(mode.stream),
                headers=dict(target.headers),
            )
            if response.status_code != 200 or PROMPT.split()[-1] not in response.text:
                tails = "\n".join(f"--- {s.name}:\n{s.log_tail()}" for s in logs)
                raise RuntimeError(
                    f"{mode.name}: HTTP {response.status_code}, {response.text[:300]!r}\n{tails}"
                )


async def measure(
    targets: Mapping[Mode, Target],
    concurrencies: Sequence[int],
    requests: Mapping[int, int],
    rounds: int,
    benchmark: str = "gateway",
) -> dict[tuple[int, Mode], Case]:
    """Warm every mode up, then run each (concurrency, mode) `rounds` times, rotating which
    of each kind's modes goes first, and pool each case's rounds. Raise
    `BenchmarkFailed` (naming `benchmark`) when any request failed."""

    async def once(mode: Mode, total: int, concurrency: int, deadline_s: float) -> LoadResult:
        target = targets[mode]
        return await run_load(
            target.base_url,
            CHAT_PATH,
            total,
            concurrency,
            deadline_s=deadline_s,
            request_timeout_s=REQUEST_TIMEOUT_S,
            method="POST",
            body=chat_body(mode.stream),
            headers=target.headers,
            stream=mode.stream,
            engine="raw",  # httpx would cost the client several times the upstream's CPU
        )

    failures: list[str | None] = []
    for mode in targets:
        warmup = await once(mode, WARMUP_REQUESTS, WARMUP_CONCURRENCY, 10.0)
        failures.append(load_failure(f"{mode.name} warm-up", warmup))
    cases: dict[tuple[int, Mode], Case] = {}
    for concurrency in concurrencies:
        total = requests[concurrency]
        runs: dict[Mode, list[LoadResult]] = {mode: [] for mode in targets}
        cpu: dict[Mode, float] = dict.fromkeys(targets, 0.0)
        for round_no in range(rounds):
            for mode in _ordered(list(targets), round_no):
                before = target_cpu_seconds(targets[mode])
                result = await once(mode, total, concurrency, RUN_DEADLINE_S)
                cpu[mode] += target_cpu_seconds(targets[mode]) - before
                runs[mode].append(result)
                label = f"{mode.name} at concurrency {concurrency}, round {round_no + 1}"
                failures.append(load_failure(label, result))
        for mode, results in runs.items():
            cases[(concurrency, mode)] = _pool(results, cpu[mode])
    # figures of failed requests would measure the failures: none are printed then
    require_no_failures(benchmark, failures)
    return cases


def _uvloop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory where it is installed (uvicorn's `standard` extra brings it)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _ordered(modes: list[Mode], round_no: int) -> list[Mode]:
    """JSON modes, then stream modes; within each kind rotated by the round, so that no mode
    always runs first or last (what ran before leaves caches and the machine's load behind)."""
    out: list[Mode] = []
    for stream in (False, True):
        kind = [m for m in modes if m.stream == stream]
        shift = round_no % len(kind) if kind else 0
        out.extend(kind[shift:] + kind[:shift])
    return out


def target_cpu_seconds(target: Target) -> float:
    """User+system CPU of the target's process, and of its children when it asks for that."""
    total = cpu_seconds(target.process)
    if not target.children:
        return total
    times = target.process.cpu_times()
    total += times.children_user + times.children_system  # those that already exited
    for child in target.process.children(recursive=True):
        try:
            total += cpu_seconds(child)
        except psutil.NoSuchProcess:
            continue  # gone between the listing and the read: its parent's reaped figure has it
    return total


def _pool(results: Sequence[LoadResult], cpu_s: float) -> Case:
    latencies = sorted(v for r in results for v in r.latencies_ms)
    ttfts = sorted(v for r in results for v in r.ttfts_ms)
    ok = sum(r.ok for r in results)
    answered = ok + sum(r.errors for r in results)
    elapsed = sum(r.elapsed_s for r in results)
    return Case(
        ok=ok,
        requested=sum(r.requested for r in results),
        errors=sum(r.errors for r in results),
        timed_out=any(r.timed_out for r in results),
        throughput=ok / elapsed if elapsed > 0 else 0.0,
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        ttft_p50_ms=percentile(ttfts, 50),
        ttft_p99_ms=percentile(ttfts, 99),
        cpu_us_per_request=cpu_s / answered * 1e6 if answered else math.nan,
    )


def _ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.1f}" if abs(value) < 100 else f"{value:,.0f}"


def _signed(value: float) -> str:
    return f"{value:+.1f}" if abs(value) < 100 else f"{value:+,.0f}"


def _coloured(text: str, met: bool | None) -> str:
    """Green when a goal is met, red when missed, plain where there is no goal."""
    if met is None:
        return text
    colour = "green" if met else "red"
    return f"[{colour}]{text}[/{colour}]"


def _added(value: float, base: float, limit: float | None = None) -> str:
    if math.isnan(value) or math.isnan(base):
        return "-"
    difference = value - base
    return _coloured(_signed(difference), None if limit is None else difference <= limit)


def _ratio(value: float, base: float, goal: float | None = None) -> str:
    if base <= 0 or math.isnan(value) or math.isnan(base):
        return "-"
    ratio = value / base
    return _coloured(f"{ratio:.2f}x", None if goal is None else ratio >= goal)


def _verdict(met: bool | None) -> str:
    if met is None:
        return "[yellow]not measured[/yellow]"
    return "[green]met[/green]" if met else "[red]missed[/red]"


def _added_goal(
    cases: Mapping[tuple[int, Mode], Case], concurrency: int, mode: Mode, figure: str, goal: float
) -> str | None:
    """`mode`'s added `figure` (p50 or p99) at `concurrency`: value, both rows, goal, verdict."""
    ours = cases.get((concurrency, mode))
    base = cases.get((concurrency, mode.baseline))
    if ours is None or base is None:
        return None
    value, baseline = getattr(ours, f"{figure}_ms"), getattr(base, f"{figure}_ms")
    added = value - baseline
    met = None if math.isnan(added) else added <= goal
    return (
        f"{_kind(mode)} +{figure} at {concurrency}: {_signed(added)} ms (gateway {_ms(value)}, "
        f"direct {_ms(baseline)}); goal ≤ {goal:g} ms: {_verdict(met)}"
    )


def _kind(mode: Mode) -> str:
    return "stream" if mode.stream else "JSON"


def _cpu_goal(cases: Mapping[tuple[int, Mode], Case], mode: Mode) -> str | None:
    """Menagerie's CPU per `mode` request over every concurrency, beside the upstream's."""
    ours = _pooled_cpu_ms(cases, mode)
    base = _pooled_cpu_ms(cases, mode.baseline)
    if ours is None or base is None:
        return None
    met = None if math.isnan(ours) else ours <= GOAL_CPU_MS
    return (
        f"{_kind(mode)} CPU: {ours:.2f} ms a request (upstream {base:.2f} a direct one); "
        f"goal ≤ {GOAL_CPU_MS:g} ms: {_verdict(met)}"
    )


def _pooled_cpu_ms(cases: Mapping[tuple[int, Mode], Case], mode: Mode) -> float | None:
    """CPU ms per answered request of `mode`, over every concurrency measured."""
    mine = [case for (_, m), case in cases.items() if m == mode]
    answered = sum(case.ok + case.errors for case in mine)
    if not answered:
        return None
    cpu_us = sum(case.cpu_us_per_request * (case.ok + case.errors) for case in mine)
    return cpu_us / answered / 1000


def _throughput_goal(
    cases: Mapping[tuple[int, Mode], Case], concurrency: int, mode: Mode
) -> str | None:
    ours = cases.get((concurrency, mode))
    base = cases.get((concurrency, mode.baseline))
    if ours is None or base is None:
        return None
    ratio = ours.throughput / base.throughput if base.throughput > 0 else math.nan
    met = None if math.isnan(ratio) else ratio >= GOAL_THROUGHPUT_RATIO
    return (
        f"{_kind(mode)} req/s at {concurrency}: {ratio:.2f}x (gateway {ours.throughput:,.0f}, "
        f"direct {base.throughput:,.0f}); goal ≥ {GOAL_THROUGHPUT_RATIO:g}x: {_verdict(met)}"
    )


def verdicts(cases: Mapping[tuple[int, Mode], Case]) -> list[str]:
    """The issue's goals, each with its figure, the direct baseline of the same run, and
    whether it is met. A goal whose concurrency was not measured (smoke mode) is left out."""
    lines: list[str | None] = []
    for mode in (GATEWAY_JSON, GATEWAY_STREAM):
        lines += [
            _added_goal(cases, TARGET_CONCURRENCY, mode, "p50", GOAL_ADDED_P50_MS),
            _added_goal(cases, TARGET_CONCURRENCY, mode, "p99", GOAL_ADDED_P99_MS),
            _added_goal(cases, SERIAL_CONCURRENCY, mode, "p50", GOAL_SERIAL_ADDED_P50_MS),
            _cpu_goal(cases, mode),
            _throughput_goal(cases, LOADED_CONCURRENCY, mode),
        ]
    return [line for line in lines if line]


def peer_comparison(cases: Mapping[tuple[int, Mode], Case]) -> list[str]:
    """Each peer's added p50 beside Menagerie's, per kind and concurrency (no goal)."""
    lines = []
    for concurrency, peer in cases:
        if not peer.peer:
            continue
        ours = GATEWAY_STREAM if peer.stream else GATEWAY_JSON
        base = cases.get((concurrency, peer.baseline))
        mine = cases.get((concurrency, ours))
        if base is None or mine is None:
            continue
        theirs = cases[(concurrency, peer)].p50_ms - base.p50_ms
        lines.append(
            f"{peer.peer} {_kind(peer)} +p50 at {concurrency}: {_signed(theirs)} ms "
            f"(Menagerie {_signed(mine.p50_ms - base.p50_ms)} ms)"
        )
    return lines


def problems(cases: Mapping[tuple[int, Mode], Case]) -> list[str]:
    """Cases with failed requests: they are left out of the figures, and should not exist."""
    return [
        f"[red]{mode.name} at {concurrency}: {case.errors} of {case.ok + case.errors} failed"
        "[/red] (non-2xx, broken stream or transport error; see the server logs)"
        for (concurrency, mode), case in cases.items()
        if case.errors
    ]


def _caption(
    cases: Mapping[tuple[int, Mode], Case], rounds: int, notes: Sequence[str]
) -> list[str]:
    peers = sorted({mode.peer for _, mode in cases if mode.peer})
    answering = "Menagerie's alone for gateway rows"
    if peers:
        answering += f", the peer's process and its children for {', '.join(peers)} rows"
    lines = [
        f"Upstream: fake OpenAI server, {UPSTREAM_LATENCY_S * 1000:.0f} ms before every "
        f"answer. Latencies in ms, every request of {rounds} rounds pooled; a stream's is to "
        f"`data: [DONE]`, its TTFT to the first chunk with text. +p50, +p99, +TTFT: the row "
        f"minus direct of the same kind; ratio: its req/s / direct's. * = a run was cut at "
        f"its {RUN_DEADLINE_S:.0f} s deadline (fewer requests measured).",
        f"CPU: the answering server's own user+system ms per request (the upstream's for "
        f"direct rows, {answering}).",
        f"Client: bench.load's raw HTTP/1.1 client{' on uvloop' if _uvloop() else ''}, one "
        f"connection per task. Python {platform.python_version()}, {os.cpu_count()} CPUs.",
        *problems(cases),
    ]
    goals = verdicts(cases)
    if goals:
        lines.append(
            "The issue's goals for Menagerie (information, not asserted; CPU: Menagerie's own "
            "over every concurrency):"
        )
        lines.extend(f"  {line}" for line in goals)
    comparison = peer_comparison(cases)
    if comparison:
        lines.append("Peers (information, no goal):")
        lines.extend(f"  {line}" for line in [*comparison, *notes])
    return lines


def _row_figures(
    cases: Mapping[tuple[int, Mode], Case], concurrency: int, mode: Mode
) -> tuple[str, str, str, str]:
    """+p50, +p99, +TTFT and the req/s ratio against the direct row; goals coloured on
    Menagerie's rows at the concurrencies they are set for."""
    case = cases[(concurrency, mode)]
    base = cases.get((concurrency, mode.baseline))
    if not mode.via_gateway or base is None:
        return ("", "", "", "")
    p50_goal = {TARGET_CONCURRENCY: GOAL_ADDED_P50_MS, SERIAL_CONCURRENCY: GOAL_SERIAL_ADDED_P50_MS}
    p99_goal = {TARGET_CONCURRENCY: GOAL_ADDED_P99_MS}
    ratio_goal = {LOADED_CONCURRENCY: GOAL_THROUGHPUT_RATIO}
    goals = mode.ours
    return (
        _added(case.p50_ms, base.p50_ms, p50_goal.get(concurrency) if goals else None),
        _added(case.p99_ms, base.p99_ms, p99_goal.get(concurrency) if goals else None),
        _added(case.ttft_p50_ms, base.ttft_p50_ms),
        _ratio(case.throughput, base.throughput, ratio_goal.get(concurrency) if goals else None),
    )


def build_table(
    cases: Mapping[tuple[int, Mode], Case],
    concurrencies: Sequence[int],
    rounds: int,
    title: str = TITLE,
    notes: Sequence[str] = (),
) -> Table:
    table = Table(
        title=f"{title}: POST {CHAT_PATH}",
        caption="\n".join(_caption(cases, rounds, notes)),
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 0),
        collapse_padding=True,
    )
    table.add_column("conc", justify="right")
    table.add_column("mode", justify="left", no_wrap=True)
    for name in ("req/s", "p50", "p99", "TTFT", "+p50", "+p99", "+TTFT", "ratio", "CPU"):
        table.add_column(name, justify="right", no_wrap=True)
    modes = list(dict.fromkeys(mode for _, mode in cases))  # measured order: JSON, then stream
    modes.sort(key=lambda mode: mode.stream)
    for concurrency in concurrencies:
        present = [mode for mode in modes if (concurrency, mode) in cases]
        for index, mode in enumerate(present):
            case = cases[(concurrency, mode)]
            throughput = f"{case.throughput:,.0f}"
            if case.timed_out:
                throughput += "[yellow]*[/yellow]"
            elif case.errors:
                throughput += "[red]![/red]"
            cpu_ms = case.cpu_us_per_request / 1000
            table.add_row(
                str(concurrency) if index == 0 else "",
                f"[bold]{mode.name}[/bold]" if mode.ours else mode.name,
                throughput,
                _ms(case.p50_ms),
                _ms(case.p99_ms),
                _ms(case.ttft_p50_ms),
                *_row_figures(cases, concurrency, mode),
                _coloured(f"{cpu_ms:.1f}", cpu_ms <= GOAL_CPU_MS if mode.ours else None),
                end_section=index == len(present) - 1,
            )
    return table


def start_upstream(stack: ExitStack, key: str, tmp: Path) -> Server:
    """The fake OpenAI upstream, stopped with `stack` (before the temporary directory goes)."""
    upstream = start_server(
        "upstream",
        "bench._serve_gateway:create_fake_llm",
        env=server_env({"BENCH_FAKE_KEY": key, "BENCH_FAKE_LATENCY_S": str(UPSTREAM_LATENCY_S)}),
        cwd=tmp,
        log_dir=tmp,
    )
    stack.callback(stop_server, upstream)
    return upstream


def admin_token(server: Server) -> str:
    """The admin API token the server printed at its first start."""
    found = re.search(r"Admin API token \(shown once, store it now\): (\S+)", server.log_text())
    if found is None:
        raise RuntimeError(f"{server.name} printed no admin token:\n{server.log_tail()}")
    return found.group(1)


def _start_gateway(
    stack: ExitStack, upstream: Server, upstream_key: str, master_key: str, tmp: Path
) -> Server:
    data_dir = tmp / "data"
    data_dir.mkdir()
    gateway = start_server(
        "menagerie",
        "bench._serve_gateway:create_gateway",
        env=server_env(
            {
                "BENCH_FAKE_KEY": upstream_key,
                "BENCH_DATA_DIR": str(data_dir),
                "BENCH_MASTER_KEY": master_key,
                "BENCH_OPENAI_BASE_URL": f"{upstream.base_url}/v1",
                "BENCH_MODEL": MODEL,
            }
        ),
        cwd=tmp,
        log_dir=tmp,
    )
    stack.callback(stop_server, gateway)
    return gateway


def run(
    concurrencies: Sequence[int] = CONCURRENCIES,
    requests: Mapping[int, int] | None = None,
    rounds: int = ROUNDS,
    *,
    peers: Sequence[Peer] = (),
    title: str = TITLE,
    notes: Sequence[str] = (),
    benchmark: str = "gateway",
) -> Table:
    """Start the upstream, Menagerie and any `peers`, measure, stop them (also on error),
    return the table. `notes` go under the peers' comparison in the caption."""
    requests = requests or REQUESTS
    upstream_key = f"sk-bench-{secrets.token_hex(12)}"
    master_key = f"mk-bench-{secrets.token_hex(16)}"
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="menagerie-bench-")))
        upstream = start_upstream(stack, upstream_key, tmp)
        # all start at once (the gateways call the upstream only when asked to)
        gateway = _start_gateway(stack, upstream, upstream_key, master_key, tmp)
        started = [
            peer.start(stack, Upstream(upstream.base_url, upstream_key), tmp) for peer in peers
        ]
        wait_upstream(upstream, upstream_key)
        wait_ready(gateway, LIVE_PATH)
        for peer_server in started:
            peer_server.ready()
        upstream_process = psutil.Process(upstream.process.pid)
        gateway_process = psutil.Process(gateway.process.pid)
        direct = {"Authorization": f"Bearer {upstream_key}", "Content-Type": "application/json"}
        # the admin API token printed at the first start: what a new user calls with (an API
        # token is a database read per request; the master key would be none)
        through = {
            "Authorization": f"Bearer {admin_token(gateway)}",
            "Content-Type": "application/json",
        }
        json_targets = {
            DIRECT_JSON: Target(upstream.base_url, direct, upstream_process),
            GATEWAY_JSON: Target(gateway.base_url, through, gateway_process),
        }
        stream_targets = {
            DIRECT_STREAM: Target(upstream.base_url, direct, upstream_process),
            GATEWAY_STREAM: Target(gateway.base_url, through, gateway_process),
        }
        for peer_server in started:
            server = peer_server.server
            target = Target(
                server.base_url, peer_server.headers, psutil.Process(server.process.pid), True
            )
            as_json, as_stream = peer_modes(server.name)
            json_targets[as_json] = target
            stream_targets[as_stream] = target
        targets = {**json_targets, **stream_targets}
        servers = (upstream, gateway, *(peer_server.server for peer_server in started))
        check_answers(targets, servers)
        with asyncio.Runner(loop_factory=_uvloop()) as runner:
            cases = runner.run(measure(targets, concurrencies, requests, rounds, benchmark))
    return build_table(cases, concurrencies, rounds, title, notes)
