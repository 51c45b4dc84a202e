"""Overhead of the LLM gateway: the same fake upstream called directly and through Menagerie.

The upstream is the test suite's fake OpenAI server (`tests/utils/fake_llm.py`) with a fixed
latency before every answer. It is called two ways with the same chat request, as JSON and as
a server-sent event stream:

- **direct**: `POST {upstream}/v1/chat/completions` with the upstream's key;
- **gateway**: `POST {menagerie}/v1/chat/completions` with the master key and the catalogue
  model `gpt-4o-mini`, which Menagerie routes to the same upstream as provider `openai`.

Upstream, Menagerie and the load generator are three processes, so that none of them shares
an event loop with another. The difference between a gateway row and the direct row of the
same kind is what the gateway adds: authentication, request validation, routing and the
quota check, the OpenAI SDK's call to the upstream and the parsing of its answer, the usage
ledger, and the re-encoding of the answer for the client.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import secrets
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

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
WARMUP_REQUESTS = sized(300, 4)
WARMUP_CONCURRENCY = sized(32, 4)
# the targets, at this concurrency: what the gateway may add to the direct call
TARGET_CONCURRENCY = 32
TARGET_ADDED_P50_MS = 3.0
TARGET_ADDED_P99_MS = 15.0
TARGET_ADDED_TTFT_MS = 5.0

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
    via_gateway: bool
    stream: bool

    @property
    def baseline(self) -> Mode:
        return Mode(self.name.replace("gateway", "direct"), False, self.stream)


DIRECT_JSON = Mode("direct JSON", False, False)
GATEWAY_JSON = Mode("gateway JSON", True, False)
DIRECT_STREAM = Mode("direct stream", False, True)
GATEWAY_STREAM = Mode("gateway stream", True, True)
MODES = (DIRECT_JSON, GATEWAY_JSON, DIRECT_STREAM, GATEWAY_STREAM)


@dataclass(frozen=True)
class Target:
    """Where one mode's requests go."""

    base_url: str
    headers: Mapping[str, str]
    process: psutil.Process  # the server that answers them, for its CPU time


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
    """Warm every mode up, then run each (concurrency, mode) `rounds` times, alternating
    whether direct or gateway goes first, and pool each case's rounds. Raise
    `BenchmarkFailed` (naming `benchmark`) when any request failed."""

    async def once(mode: Mode, total: int, concurrency: int, deadline_s: float) -> LoadResult:
        target = targets[mode]
        return await run_load(
            target.base_url,
            CHAT_PATH,
            total,
            concurrency,
            deadline_s=deadline_s,
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
            order = list(targets) if round_no % 2 == 0 else _swapped(list(targets))
            for mode in order:
                process = targets[mode].process
                before = cpu_seconds(process)
                result = await once(mode, total, concurrency, RUN_DEADLINE_S)
                cpu[mode] += cpu_seconds(process) - before
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


def _swapped(modes: list[Mode]) -> list[Mode]:
    """Within each kind (JSON, stream), the gateway first instead of the direct call."""
    out: list[Mode] = []
    for stream in (False, True):
        kind = [m for m in modes if m.stream == stream]
        out.extend(sorted(kind, key=lambda m: not m.via_gateway))
    return out


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


def _added(value: float, base: float, limit: float | None = None) -> str:
    if math.isnan(value) or math.isnan(base):
        return "-"
    difference = value - base
    text = f"{difference:+.1f}" if abs(difference) < 100 else f"{difference:+,.0f}"
    if limit is None:
        return text
    return f"[green]{text}[/green]" if difference < limit else f"[red]{text}[/red]"


def _ratio(value: float, base: float) -> str:
    if base <= 0 or math.isnan(value) or math.isnan(base):
        return "-"
    return f"{value / base:.2f}x"


def verdicts(cases: Mapping[tuple[int, Mode], Case], concurrency: int) -> list[str]:
    """The issue's targets at `concurrency`, each with its figure and whether it is met."""
    lines = []
    checks = (
        (GATEWAY_JSON, "added p50", "p50_ms", TARGET_ADDED_P50_MS),
        (GATEWAY_JSON, "added p99", "p99_ms", TARGET_ADDED_P99_MS),
        (GATEWAY_STREAM, "added p50", "p50_ms", TARGET_ADDED_P50_MS),
        (GATEWAY_STREAM, "added p99", "p99_ms", TARGET_ADDED_P99_MS),
        (GATEWAY_STREAM, "added TTFT p50", "ttft_p50_ms", TARGET_ADDED_TTFT_MS),
    )
    for mode, label, attribute, limit in checks:
        ours = cases.get((concurrency, mode))
        base = cases.get((concurrency, mode.baseline))
        if ours is None or base is None:
            continue
        added = getattr(ours, attribute) - getattr(base, attribute)
        if math.isnan(added):
            verdict = "[yellow]not measured[/yellow]"
        elif added < limit:
            verdict = "[green]met[/green]"
        else:
            verdict = "[red]missed[/red]"
        lines.append(f"{mode.name} {label} {added:+.1f} ms (target < {limit:g}): {verdict}")
    return lines


def problems(cases: Mapping[tuple[int, Mode], Case]) -> list[str]:
    """Cases with failed requests: they are left out of the figures, and should not exist."""
    return [
        f"[red]{mode.name} at {concurrency}: {case.errors} of {case.ok + case.errors} failed"
        "[/red] (non-2xx, broken stream or transport error; see the server logs)"
        for (concurrency, mode), case in cases.items()
        if case.errors
    ]


def build_table(
    cases: Mapping[tuple[int, Mode], Case],
    concurrencies: Sequence[int],
    rounds: int,
) -> Table:
    caption = [
        f"Upstream: fake OpenAI server, {UPSTREAM_LATENCY_S * 1000:.0f} ms before every "
        f"answer. Latencies in ms, every request of {rounds} rounds pooled; a stream's is to "
        f"`data: [DONE]`, its TTFT to the first chunk with text. +p50, +p99, +TTFT: gateway "
        f"minus direct of the same kind; ratio: gateway / direct req/s. * = a run was cut at "
        f"its {RUN_DEADLINE_S:.0f} s deadline (fewer requests measured).",
        "CPU: the answering server's own user+system ms per request (the upstream's for "
        "direct rows, Menagerie's alone for gateway rows).",
        f"Client: bench.load's raw HTTP/1.1 client{' on uvloop' if _uvloop() else ''}, one "
        f"connection per task. Python {platform.python_version()}, {os.cpu_count()} CPUs.",
        *problems(cases),
        f"Targets at concurrency {TARGET_CONCURRENCY} (for information, not asserted):",
        *(f"  {line}" for line in verdicts(cases, TARGET_CONCURRENCY)),
    ]
    table = Table(
        title=f"{TITLE}: POST {CHAT_PATH}",
        caption="\n".join(caption),
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 0),
        collapse_padding=True,
    )
    table.add_column("conc", justify="right")
    table.add_column("mode", justify="left", no_wrap=True)
    for name in ("req/s", "p50", "p99", "TTFT", "+p50", "+p99", "+TTFT", "ratio", "CPU"):
        table.add_column(name, justify="right", no_wrap=True)
    for concurrency in concurrencies:
        at_target = concurrency == TARGET_CONCURRENCY
        present = [mode for mode in MODES if (concurrency, mode) in cases]
        for index, mode in enumerate(present):
            case = cases[(concurrency, mode)]
            added = ("", "", "", "")
            base = cases.get((concurrency, mode.baseline))
            if mode.via_gateway and base is not None:
                added = (
                    _added(case.p50_ms, base.p50_ms, TARGET_ADDED_P50_MS if at_target else None),
                    _added(case.p99_ms, base.p99_ms, TARGET_ADDED_P99_MS if at_target else None),
                    _added(
                        case.ttft_p50_ms,
                        base.ttft_p50_ms,
                        TARGET_ADDED_TTFT_MS if at_target else None,
                    ),
                    f"[bold]{_ratio(case.throughput, base.throughput)}[/bold]",
                )
            throughput = f"{case.throughput:,.0f}"
            if case.timed_out:
                throughput += "[yellow]*[/yellow]"
            elif case.errors:
                throughput += "[red]![/red]"
            table.add_row(
                str(concurrency) if index == 0 else "",
                f"[bold]{mode.name}[/bold]" if mode.via_gateway else mode.name,
                throughput,
                _ms(case.p50_ms),
                _ms(case.p99_ms),
                _ms(case.ttft_p50_ms),
                *added,
                f"{case.cpu_us_per_request / 1000:.1f}",
                end_section=index == len(present) - 1,
            )
    return table


def run(
    concurrencies: Sequence[int] = CONCURRENCIES,
    requests: Mapping[int, int] | None = None,
    rounds: int = ROUNDS,
) -> Table:
    """Start the upstream and Menagerie, measure, stop them (also on error), return the table."""
    requests = requests or REQUESTS
    upstream_key = f"sk-bench-{secrets.token_hex(12)}"
    master_key = f"mk-bench-{secrets.token_hex(16)}"
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="menagerie-bench-")))
        data_dir = tmp / "data"
        data_dir.mkdir()
        upstream = start_server(
            "upstream",
            "bench._serve_gateway:create_fake_llm",
            env=server_env(
                {"BENCH_FAKE_KEY": upstream_key, "BENCH_FAKE_LATENCY_S": str(UPSTREAM_LATENCY_S)}
            ),
            cwd=tmp,
            log_dir=tmp,
        )
        stack.callback(stop_server, upstream)  # before the temporary directory goes
        # both start at once (the gateway calls the upstream only when asked to)
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
        wait_upstream(upstream, upstream_key)
        wait_ready(gateway, LIVE_PATH)
        upstream_process = psutil.Process(upstream.process.pid)
        gateway_process = psutil.Process(gateway.process.pid)
        direct = {"Authorization": f"Bearer {upstream_key}", "Content-Type": "application/json"}
        through = {"Authorization": f"Bearer {master_key}", "Content-Type": "application/json"}
        targets = {
            DIRECT_JSON: Target(upstream.base_url, direct, upstream_process),
            GATEWAY_JSON: Target(gateway.base_url, through, gateway_process),
            DIRECT_STREAM: Target(upstream.base_url, direct, upstream_process),
            GATEWAY_STREAM: Target(gateway.base_url, through, gateway_process),
        }
        check_answers(targets, (upstream, gateway))
        with asyncio.Runner(loop_factory=_uvloop()) as runner:
            cases = runner.run(measure(targets, concurrencies, requests, rounds))
    return build_table(cases, concurrencies, rounds)
