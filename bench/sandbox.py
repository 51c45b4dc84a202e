"""A command in a sandbox: `echo hi` through Metamorph's sandbox API, and as a bare bwrap spawn.

Baseline, measured in the same run: `bwrap` run directly (asyncio.create_subprocess_exec)
with the namespace flags the bwrap backend uses (`--unshare-all --die-with-parent
--new-session`, /usr read-only, the host's /bin, /lib … symlinks, its own /proc, /dev and
/tmp, a workspace bound at /vercel/sandbox) and `echo hi` inside. Then, through Menagerie (a
uvicorn process of its own, dev mode, tier `team`, driven over HTTP with `X-Vault-Id`):

- **exec**: `POST /metamorph/api/sandboxes/{id}/execute` of `echo hi` on one running sandbox,
  serial; the added p50 over the bare spawn has a goal of at most 10 ms (printed, never
  asserted);
- **lifecycle**: create + start + exec + delete of a fresh sandbox per iteration.

For reading the difference, the backend's own `run()` is also timed in this process (its
cgroup leaf, `setpriv`, `prlimit` and `env` around the same bwrap; no HTTP, no database).
The three spawns are interleaved, one of each per iteration, so they share the machine's
noise. Every answer is checked (status, exit code 0, stdout `hi`); any failure raises.
"""

from __future__ import annotations

import asyncio
import os
import platform
import secrets
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich import box
from rich.table import Table

from bench.checks import sized
from bench.gateway import server_env
from bench.load import percentile
from bench.middleware import Server, start_server, stop_server, wait_ready

TITLE = "A sandboxed command, through Metamorph and as a bare bwrap spawn"
BASE = "/metamorph/api/sandboxes"
VAULT = "bench"
COMMAND = "echo hi"
EXPECTED_STDOUT = "hi\n"
MOUNT_POINT = "/vercel/sandbox"  # Metamorph's default workingDirectory
EXEC_ITERATIONS = sized(200, 3)
LIFECYCLE_ITERATIONS = sized(30, 1)
WARMUP = sized(10, 1)
REQUEST_TIMEOUT_S = 30.0
TARGET_ADDED_P50_MS = 10.0

Timed = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Sample:
    """One case's latencies in ms, ascending."""

    values: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.values)

    @property
    def p99(self) -> float:
        return percentile(self.values, 99)


def bare_argv(bwrap: str, workspace: Path) -> list[str]:
    """The bwrap backend's namespaces and mounts around `echo hi`, nothing else."""
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--new-session"]
    argv += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            argv += ["--ro-bind", str(path), str(path)]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    argv += ["--bind", str(workspace), MOUNT_POINT, "--chdir", MOUNT_POINT]
    return [*argv, "--", "echo", "hi"]


async def _spawn(argv: list[str]) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin"},
    )
    stdout, stderr = await process.communicate()
    if process.returncode != 0 or stdout != EXPECTED_STDOUT.encode():
        raise RuntimeError(
            f"bare bwrap: exit {process.returncode}, stdout {stdout!r}, stderr {stderr[:300]!r}"
        )


class Api:
    """Metamorph's sandbox routes as the bench's vault, every answer checked."""

    def __init__(self, http: httpx.AsyncClient, server: Server) -> None:
        self.http = http
        self.server = server

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await self.http.request(method, BASE + path, json=body)
        if response.status_code not in (200, 201):
            raise RuntimeError(
                f"{method} {BASE}{path}: HTTP {response.status_code} {response.text[:500]}"
                f"\n--- server log:\n{self.server.log_tail()}"
            )
        return response.json()

    async def create(self, name: str) -> str:
        created = await self.call("POST", "", {"name": name})
        sandbox_id: str = created["id"]
        return sandbox_id

    async def start(self, sandbox_id: str) -> None:
        started = await self.call("POST", f"/{sandbox_id}/start")
        if started.get("status") != "running":
            raise RuntimeError(f"start {sandbox_id}: {started}")

    async def execute(self, sandbox_id: str) -> int:
        """Run `echo hi`; the server's own executionTimeMs."""
        result = await self.call("POST", f"/{sandbox_id}/execute", {"command": COMMAND})
        if (
            result.get("success") is not True
            or result.get("exitCode") != 0
            or result.get("stdout") != EXPECTED_STDOUT
        ):
            raise RuntimeError(f"execute {COMMAND!r} in {sandbox_id}: {result}")
        execution_ms: int = result["executionTimeMs"]
        return execution_ms

    async def delete(self, sandbox_id: str) -> None:
        await self.call("DELETE", f"/{sandbox_id}")

    async def backend(self, sandbox_id: str) -> str:
        detail = await self.call("GET", f"/{sandbox_id}")
        name: str = detail["backend"]
        return name


def _in_process_backend(name: str, workspace: Path) -> tuple[Timed, Callable[[], Awaitable[None]]]:
    """The server's backend class run in this process: (one `echo hi`, release its cgroups)."""
    from menagerie.core.sandboxes.backends import BwrapBackend, ProcessBackend
    from menagerie.core.sandboxes.backends.base import ExecRequest, Limits

    backend = BwrapBackend() if name == "bwrap" else ProcessBackend()
    group = f"bench-{secrets.token_hex(4)}"
    request = ExecRequest(
        argv=["echo", "hi"],
        workspace=workspace,
        mount_point=MOUNT_POINT,
        cwd=MOUNT_POINT,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": MOUNT_POINT, "LANG": "C.UTF-8"},
        timeout_s=REQUEST_TIMEOUT_S,
        limits=Limits(),
        # as the service does when the server runs as root: a uid of the sandbox's own
        uid=200_000 + secrets.randbelow(1_000_000) if os.geteuid() == 0 else None,
        group=group,
    )

    async def once() -> None:
        outcome = await backend.run(request)
        if outcome.exit_code != 0 or outcome.stdout != EXPECTED_STDOUT:
            raise RuntimeError(f"{name} backend in-process: {outcome}")

    async def release() -> None:
        await backend.release(group)

    return once, release


async def _timed(action: Timed, into: list[float]) -> None:
    started = time.perf_counter()
    await action()
    into.append((time.perf_counter() - started) * 1000)


@dataclass
class Results:
    backend: str
    bare: Sample
    in_process: Sample
    exec: Sample
    execution_ms: Sample  # the server's executionTimeMs of the same requests
    lifecycle: Sample
    steps: dict[str, Sample]


async def _measure(server: Server, bwrap: str, tmp: Path) -> Results:
    bare_workspace = tmp / "bare-workspace"
    bare_workspace.mkdir()
    bare = bare_argv(bwrap, bare_workspace)
    headers = {"X-Vault-Id": VAULT}
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=headers, timeout=REQUEST_TIMEOUT_S, trust_env=False
    ) as http:
        api = Api(http, server)
        sandbox_id = await api.create("bench-exec")
        await api.start(sandbox_id)
        backend = await api.backend(sandbox_id)
        in_process, release = _in_process_backend(backend, bare_workspace)
        try:
            for _ in range(WARMUP):
                await _spawn(bare)
                await in_process()
                await api.execute(sandbox_id)
            bare_ms: list[float] = []
            in_process_ms: list[float] = []
            exec_ms: list[float] = []
            server_ms: list[float] = []
            for _ in range(EXEC_ITERATIONS):
                await _timed(lambda: _spawn(bare), bare_ms)
                await _timed(in_process, in_process_ms)
                started = time.perf_counter()
                server_ms.append(await api.execute(sandbox_id))
                exec_ms.append((time.perf_counter() - started) * 1000)
        finally:
            await release()
        await api.delete(sandbox_id)

        lifecycle_ms: list[float] = []
        steps: dict[str, list[float]] = {name: [] for name in ("create", "start", "exec", "delete")}
        for iteration in range(LIFECYCLE_ITERATIONS):
            began = time.perf_counter()
            marks = [began]
            fresh = await api.create(f"bench-lifecycle-{iteration}")
            marks.append(time.perf_counter())
            await api.start(fresh)
            marks.append(time.perf_counter())
            await api.execute(fresh)
            marks.append(time.perf_counter())
            await api.delete(fresh)
            marks.append(time.perf_counter())
            lifecycle_ms.append((marks[-1] - began) * 1000)
            for index, name in enumerate(steps):
                steps[name].append((marks[index + 1] - marks[index]) * 1000)
    return Results(
        backend=backend,
        bare=Sample(sorted(bare_ms)),
        in_process=Sample(sorted(in_process_ms)),
        exec=Sample(sorted(exec_ms)),
        execution_ms=Sample(sorted(server_ms)),
        lifecycle=Sample(sorted(lifecycle_ms)),
        steps={name: Sample(sorted(values)) for name, values in steps.items()},
    )


def _row(table: Table, case: str, count: int, sample: Sample, base: Sample | None) -> None:
    added = f"{sample.p50 - base.p50:+.2f}" if base is not None else ""
    ratio = f"{sample.p50 / base.p50:.1f}x" if base is not None else ""
    table.add_row(case, str(count), f"{sample.p50:.2f}", f"{sample.p99:.2f}", added, ratio)


def build_table(results: Results) -> Table:
    bare = results.bare
    added = results.exec.p50 - bare.p50
    verdict = "[green]met[/green]" if added <= TARGET_ADDED_P50_MS else "[red]missed[/red]"
    comparable = "" if results.backend == "bwrap" else " [yellow](not bwrap: not comparable)"
    caption = [
        f"Backend that served: {results.backend}{comparable}. Latencies in ms; +p50 and x: "
        "against the bare bwrap spawn's p50.",
        f"Where exec's added p50 goes (roughly): launcher, backend run() in-process minus bare "
        f"{results.in_process.p50 - bare.p50:+.1f}; the same run() in the server, its "
        f"executionTimeMs p50 {results.execution_ms.p50:.0f} (p99 {results.execution_ms.p99:.0f})"
        f" minus in-process {results.execution_ms.p50 - results.in_process.p50:+.1f}; HTTP, "
        f"auth, database and service around it {results.exec.p50 - results.execution_ms.p50:+.1f}.",
        f"Goal: exec adds <= {TARGET_ADDED_P50_MS:g} ms p50 over bare bwrap: added "
        f"{added:+.2f} ms, {verdict} (for information, not asserted).",
        f"Client: httpx, one keep-alive connection. Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs.",
    ]
    table = Table(
        title=f"{TITLE} (`{COMMAND}`)",
        caption="\n".join(caption),
        caption_justify="left",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("case", justify="left", no_wrap=True)
    for column in ("n", "p50 ms", "p99 ms", "+p50 ms", "x bare"):
        table.add_column(column, justify="right", no_wrap=True)
    _row(table, "bare bwrap spawn (baseline)", len(bare.values), bare, bare)
    _row(
        table,
        f"{results.backend} backend run(), in-process",
        EXEC_ITERATIONS,
        results.in_process,
        bare,
    )
    _row(table, "[bold]POST …/execute, running sandbox[/bold]", EXEC_ITERATIONS, results.exec, bare)
    _row(
        table,
        "[bold]create + start + exec + delete[/bold]",
        LIFECYCLE_ITERATIONS,
        results.lifecycle,
        bare,
    )
    for name, sample in results.steps.items():
        _row(table, f"  {name}", LIFECYCLE_ITERATIONS, sample, None)
    return table


def run() -> Table:
    bwrap = shutil.which("bwrap", path="/usr/bin:/bin")
    if bwrap is None:
        raise RuntimeError("bubblewrap is not installed (apt-get install bubblewrap)")
    key = f"mk-bench-{secrets.token_hex(16)}"
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="menagerie-bench-")))
        # sandboxes run as a uid of their own when the server is root: it must reach its
        # workspace under the data directory, and TemporaryDirectory's 0700 would stop it
        tmp.chmod(0o711)
        (tmp / "data").mkdir(mode=0o711)
        server = start_server(
            "menagerie",
            "menagerie.app:create_app",
            env=server_env(
                {
                    "MENAGERIE_DATA_DIR": str(tmp / "data"),
                    "MENAGERIE_MASTER_KEY": key,
                    "MENAGERIE_DEV_MODE": "true",
                    "MENAGERIE_SANDBOX_TIER": "team",  # 20 sandboxes
                    "MENAGERIE_RATE_LIMITS_ENABLED": "false",
                    "MENAGERIE_LOG_LEVEL": "WARNING",
                }
            ),
            cwd=tmp,  # no .env is read
            log_dir=tmp,
        )
        stack.callback(stop_server, server)
        wait_ready(server, "/gary/health/live")
        results = asyncio.run(_measure(server, bwrap, tmp))
    return build_table(results)
