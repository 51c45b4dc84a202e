"""Cost of the middleware stack: Menagerie's liveness probe against a bare Starlette app.

Both apps run as real uvicorn processes on free loopback ports, with the same uvicorn options,
and answer `GET /gary/health/live` with `{"status": "alive"}`. The difference between them is
everything Menagerie puts in front of that handler: the request-context and API-version
middleware, the error handling, the `/gary` mount, and FastAPI's routing and serialisation.

Besides the client's view (req/s, p50, p99), each server's own CPU time is read from the
kernel around every load run. On a small machine the client is the bottleneck and shares the
cores with the servers, so the server CPU per request is the steadier measure of the stack.
"""

from __future__ import annotations

import asyncio
import math
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from rich.table import Table

from bench.bare_app import LIVE_PATH
from bench.checks import load_failure, require_no_failures, sized
from bench.load import LoadResult, run_load

TITLE = "Cost of the middleware stack"

REPO_ROOT = Path(__file__).resolve().parent.parent
EXPECTED_BODY = {"status": "alive"}
REQUESTS = sized(2000, 20)
CONCURRENCIES = sized((1, 32), (4,))
ROUNDS = sized(3, 1)
WARMUP_REQUESTS = sized(300, 10)
RUN_DEADLINE_S = 7.0  # per load run: 2 levels x 2 apps x 3 rounds stays under two minutes
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0

BARE = "bare"
MENAGERIE = "menagerie"


@dataclass
class Server:
    """One uvicorn process we started, and where its output goes."""

    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


def free_port() -> int:
    """A port the kernel just handed out on loopback (free now; the server binds it next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(
    name: str, target: str, *, env: Mapping[str, str], cwd: Path, log_dir: Path
) -> Server:
    """Start `uvicorn --factory target` on a free loopback port, quietly."""
    port = free_port()
    log_path = log_dir / f"{name}.log"
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--factory",
        "--app-dir",
        str(REPO_ROOT),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--no-server-header",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C reaches us only; we stop it ourselves
        )
    return Server(name, process, f"http://127.0.0.1:{port}", log_path)


def stop_server(server: Server) -> None:
    """SIGTERM (uvicorn shuts down gracefully), then SIGKILL if it lingers."""
    process = server.process
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_ready(server: Server, path: str, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Poll `path` until it answers 200 with the expected body; raise if the process dies."""
    deadline = time.monotonic() + timeout_s
    last_error = "no answer yet"
    with httpx.Client(base_url=server.base_url, timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"{server.name} exited with {server.process.returncode} before it was ready:"
                    f"\n{server.log_tail()}"
                )
            try:
                response = client.get(path)
            except httpx.TransportError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200 and response.json() == EXPECTED_BODY:
                    return
                last_error = f"HTTP {response.status_code}: {response.text[:200]}"
            time.sleep(0.1)
    raise RuntimeError(
        f"{server.name} not ready after {timeout_s:.0f} s ({last_error}):\n{server.log_tail()}"
    )


def server_env(data_dir: Path | None) -> dict[str, str]:
    """The parent's environment without any MENAGERIE_* setting, plus the bench's own.

    With a data directory (a Menagerie server), rate limits are off: the load would trip
    them, and the benchmark would measure the rate limiter's 429s instead of the stack.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("MENAGERIE_")}
    env.pop("EMBLEM_DEV_MODE", None)
    env["PYTHONUNBUFFERED"] = "1"
    if data_dir is not None:
        env["MENAGERIE_DATA_DIR"] = str(data_dir)
        env["MENAGERIE_LOG_LEVEL"] = "WARNING"
        env["MENAGERIE_RATE_LIMITS_ENABLED"] = "false"
        # no llama.cpp build in the background of a measurement (minutes of both cores)
        env["MENAGERIE_LOCAL_MODEL"] = "off"
    return env


@dataclass(frozen=True)
class Case:
    """One (concurrency, server) case: its median round, and server CPU over all rounds."""

    median: LoadResult
    cpu_us_per_request: float  # server user+system CPU per answered request, every round


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def measure(
    servers: Mapping[str, Server],
    requests: int,
    concurrencies: Sequence[int],
    rounds: int,
) -> dict[tuple[int, str], Case]:
    """Warm both servers up, then run every (concurrency, server) case `rounds` times,
    alternating which server goes first, and keep each case's median round by throughput."""
    failures: list[str | None] = []
    for name, server in servers.items():
        warmup = await run_load(
            server.base_url, LIVE_PATH, WARMUP_REQUESTS, max(concurrencies), deadline_s=10.0
        )
        failures.append(load_failure(f"{name} warm-up", warmup))
    names = list(servers)
    processes = {name: psutil.Process(server.process.pid) for name, server in servers.items()}
    cases: dict[tuple[int, str], Case] = {}
    for concurrency in concurrencies:
        samples: dict[str, list[LoadResult]] = {name: [] for name in names}
        cpu: dict[str, float] = dict.fromkeys(names, 0.0)
        for round_no in range(rounds):
            order = names if round_no % 2 == 0 else names[::-1]
            for name in order:
                before = cpu_seconds(processes[name])
                result = await run_load(
                    servers[name].base_url,
                    LIVE_PATH,
                    requests,
                    concurrency,
                    deadline_s=RUN_DEADLINE_S,
                )
                cpu[name] += cpu_seconds(processes[name]) - before
                samples[name].append(result)
                label = f"{name} at concurrency {concurrency}, round {round_no + 1}"
                failures.append(load_failure(label, result))
        for name, runs in samples.items():
            answered = sum(run.ok + run.errors for run in runs)
            runs.sort(key=lambda r: r.throughput)
            cases[(concurrency, name)] = Case(
                median=runs[len(runs) // 2],
                cpu_us_per_request=cpu[name] / answered * 1e6 if answered else math.nan,
            )
    # figures of failed requests (a 429 is cheap) would measure the failures, not the stack
    require_no_failures("middleware", failures)
    return cases


def _ratio(value: float, base: float) -> str:
    if base <= 0 or math.isnan(value) or math.isnan(base):
        return "-"
    return f"{value / base:.2f}x"


def _count(result: LoadResult) -> str:
    text = f"{result.ok}"
    if result.timed_out:
        text += "[yellow]*[/yellow]"
    if result.errors:
        text += f" [red]{result.errors} err[/red]"
    return text


def build_table(
    cases: Mapping[tuple[int, str], Case],
    concurrencies: Sequence[int],
    requests: int,
    rounds: int,
) -> Table:
    table = Table(
        title=f"{TITLE}: GET {LIVE_PATH}",
        caption_justify="left",
        caption=(
            f"ratio = menagerie / bare. ok: of {requests} requests per run, * = cut at the "
            f"{RUN_DEADLINE_S:.0f} s deadline. req/s and latency: median of {rounds} rounds; "
            f"CPU: server user+system over all rounds. Menagerie runs with rate limits off "
            f"(MENAGERIE_RATE_LIMITS_ENABLED=false): the load would trip them and measure "
            f"429s; a failed request fails the benchmark. Client: one httpx.AsyncClient in "
            f"this process. Python {platform.python_version()}, {os.cpu_count()} CPUs."
        ),
    )
    table.add_column("conc", justify="right")
    table.add_column("server")
    table.add_column("req/s", justify="right")
    table.add_column("p50 ms", justify="right")
    table.add_column("p99 ms", justify="right")
    table.add_column("CPU µs/req", justify="right")
    table.add_column("ok", justify="right")
    for concurrency in concurrencies:
        bare = cases[(concurrency, BARE)]
        ours = cases[(concurrency, MENAGERIE)]
        for name, case in ((BARE, bare), (MENAGERIE, ours)):
            result = case.median
            table.add_row(
                str(concurrency),
                name,
                f"{result.throughput:,.0f}",
                f"{result.p50_ms:.2f}",
                f"{result.p99_ms:.2f}",
                f"{case.cpu_us_per_request:,.0f}",
                _count(result),
            )
        table.add_row(
            "",
            "[bold]ratio[/bold]",
            f"[bold]{_ratio(ours.median.throughput, bare.median.throughput)}[/bold]",
            f"[bold]{_ratio(ours.median.p50_ms, bare.median.p50_ms)}[/bold]",
            _ratio(ours.median.p99_ms, bare.median.p99_ms),
            f"[bold]{_ratio(ours.cpu_us_per_request, bare.cpu_us_per_request)}[/bold]",
            "",
            end_section=True,
        )
    return table


def run(
    requests: int = REQUESTS,
    concurrencies: Sequence[int] = CONCURRENCIES,
    rounds: int = ROUNDS,
) -> Table:
    """Start both servers, measure, stop them (also on error), and return the table."""
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="menagerie-bench-")))
        data_dir = tmp / "data"
        data_dir.mkdir()
        servers: dict[str, Server] = {}
        for name, target, env in (
            (BARE, "bench.bare_app:create_app", server_env(None)),
            (MENAGERIE, "menagerie.app:create_app", server_env(data_dir)),
        ):
            server = start_server(name, target, env=env, cwd=tmp, log_dir=tmp)
            stack.callback(stop_server, server)  # before the temporary directory goes
            servers[name] = server
        for server in servers.values():
            wait_ready(server, LIVE_PATH)
        cases = asyncio.run(measure(servers, requests, concurrencies, rounds))
    return build_table(cases, concurrencies, requests, rounds)
