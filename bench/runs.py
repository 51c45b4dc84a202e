"""Runs: no-op work through Menagerie's runs against bare taskiq kicks on the same broker.

Baseline, measured in the same run on the same broker: a taskiq task that does nothing,
kicked N times and executed by a taskiq receiver in this process. Then, on the same broker:

- **runs**: N no-op runs submitted through core's `Runs` (a database row each, claimed by
  priority and tenant fairness, a heartbeat, the end written back), executed in this
  process; runs per second, and time from submit to `running` (p50/p99);
- **Gary tasks**: M tasks through Crazy Gary's HTTP API (`POST /api/tasks` + `POST
  …/start`) on a server process of its own, each running the agent loop with the offline
  model, waited for with `GET /api/tasks`; tasks per second.

Brokers: the in-memory one always, Redis when `MENAGERIE_BENCH_REDIS_URL` (default
redis://127.0.0.1:6379/0) answers (in smoke mode only when it is named). Every run must
complete; any failure raises.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from rich import box
from rich.table import Table
from sqlalchemy import select
from taskiq import AsyncBroker
from taskiq.receiver import Receiver

from bench.checks import sized, smoke
from bench.load import percentile
from bench.middleware import REPO_ROOT, server_env, start_server, stop_server
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.runs.broker import create_broker
from menagerie.core.runs.models import JobKind, RunContext
from menagerie.core.runs.tables import RunRow
from menagerie.platform import Platform
from menagerie.settings import Settings

TITLE = "Runs: no-op runs and Gary tasks against bare taskiq kicks, on the same broker"
RUNS = sized(500, 10)
TASKS = sized(60, 2)
CONCURRENCY = 8
TIMEOUT_S = 120.0
REDIS_URL = "redis://127.0.0.1:6379/0"
PASSWORD = "Bench-Password-2026"


@dataclass(frozen=True)
class Row:
    broker: str
    what: str
    count: int
    per_second: float
    to_running_p50_ms: float | None = None
    to_running_p99_ms: float | None = None


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 1):
            return True
    except OSError:
        return False


async def _bare(url: str | None) -> float:
    """N kicks of a no-op taskiq task, executed by a receiver here; kicks per second."""
    broker: AsyncBroker = create_broker(url, concurrency=CONCURRENCY, queue=new_id("bench", 8))
    done = asyncio.Event()
    finished = 0

    async def noop(n: int) -> None:
        nonlocal finished
        finished += 1
        if finished == RUNS:
            done.set()

    task = broker.register_task(noop, task_name="bench.noop")
    stop = asyncio.Event()
    listener: asyncio.Task[None] | None = None
    await broker.startup()
    if url is not None:
        receiver = Receiver(broker, max_async_tasks=CONCURRENCY, run_startup=False)
        listener = asyncio.create_task(receiver.listen(stop))
    try:
        started = time.perf_counter()
        for n in range(RUNS):
            await task.kiq(n)
        await asyncio.wait_for(done.wait(), TIMEOUT_S)
        return RUNS / (time.perf_counter() - started)
    finally:
        stop.set()
        if listener is not None:
            listener.cancel()
        await broker.shutdown()


async def _runs(url: str | None, data_dir: Path) -> Row:
    settings = Settings(
        data_dir=data_dir,
        broker_url=url,
        broker_queue=new_id("bench", 8),
        worker_concurrency=CONCURRENCY,
        rate_limits_enabled=False,
        _env_file=None,
    )
    platform = Platform.build(settings)

    async def noop(context: RunContext) -> None:
        return None

    platform.runs.register(JobKind("bench.noop", noop))
    await platform.start()
    try:
        result = platform.bootstrap_result
        assert result is not None
        me = Principal(result.tenant_id, result.admin_user_id, frozenset({"admin"}))
        started = time.perf_counter()
        runs = [await platform.runs.submit(me, "bench.noop") for _ in range(RUNS)]
        for run in runs:
            ended = await platform.runs.wait(run.id, TIMEOUT_S)
            if ended.status != "completed":
                raise RuntimeError(f"run {run.id} ended {ended.status}: {ended.error}")
        per_second = RUNS / (time.perf_counter() - started)
        async with platform.database.session() as session:
            rows = (await session.execute(select(RunRow.created_at, RunRow.started_at))).all()
        waits = sorted((began - created).total_seconds() * 1000 for created, began in rows)
        return Row(
            _name(url),
            "Menagerie runs (no-op job)",
            RUNS,
            per_second,
            percentile(waits, 50),
            percentile(waits, 99),
        )
    finally:
        await platform.stop()


async def _gary_tasks(url: str | None, data_dir: Path, log_dir: Path) -> Row:
    env = server_env(data_dir)
    env.update(
        {
            "MENAGERIE_RATE_LIMITS_ENABLED": "false",
            "MENAGERIE_OFFLINE_TOKEN_DELAY_MS": "0",
            "MENAGERIE_WORKER_CONCURRENCY": str(CONCURRENCY),
            "MENAGERIE_BROKER_QUEUE": new_id("bench", 8),
        }
    )
    if url is not None:
        env["MENAGERIE_BROKER_URL"] = url
    server = start_server(
        f"runs-{_name(url)}", "menagerie.app:create_app", env=env, cwd=REPO_ROOT, log_dir=log_dir
    )
    try:
        async with httpx.AsyncClient(
            base_url=f"{server.base_url}/gary", timeout=30, trust_env=False
        ) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if (await http.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server not ready:\n{server.log_tail()}")
                await asyncio.sleep(0.1)
            registered = await http.post(
                "/api/auth/register",
                json={"email": "bench@example.com", "password": PASSWORD, "name": "Bench"},
            )
            if registered.status_code != 201:
                raise RuntimeError(f"register: {registered.status_code} {registered.text}")
            headers = {"Authorization": f"Bearer {registered.json()['token']}"}
            started = time.perf_counter()
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one(n: int) -> None:
                async with gate:
                    body = {"title": f"task {n}", "description": "say hello"}
                    created = await http.post("/api/tasks", json=body, headers=headers)
                    if created.status_code != 201:
                        raise RuntimeError(f"create: {created.status_code} {created.text}")
                    task_id = created.json()["task_id"]
                    begun = await http.post(f"/api/tasks/{task_id}/start", headers=headers)
                    if begun.status_code != 200:
                        raise RuntimeError(f"start: {begun.status_code} {begun.text}")

            await asyncio.gather(*(one(n) for n in range(TASKS)))
            deadline = time.monotonic() + TIMEOUT_S
            while True:
                listed = await http.get("/api/tasks?limit=100", headers=headers)
                statuses = [task["status"] for task in listed.json()]
                if any(status in ("failed", "stopped") for status in statuses):
                    raise RuntimeError(f"a task did not complete: {statuses}")
                if statuses.count("completed") == TASKS:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"tasks not done in {TIMEOUT_S} s: {statuses}")
                await asyncio.sleep(0.05)
            per_second = TASKS / (time.perf_counter() - started)
        return Row(_name(url), "Gary tasks over HTTP (agent loop)", TASKS, per_second)
    finally:
        stop_server(server)


def _name(url: str | None) -> str:
    return "memory" if url is None else urlsplit(url).scheme


async def _measure() -> tuple[list[Row], dict[str, float]]:
    redis = os.environ.get("MENAGERIE_BENCH_REDIS_URL", REDIS_URL)
    # the smoke run tries Redis only when it is named: a Redis that merely answers on the
    # default port would double its time
    wanted = not smoke() or "MENAGERIE_BENCH_REDIS_URL" in os.environ
    brokers: list[str | None] = [None] + ([redis] if wanted and _reachable(redis) else [])
    rows: list[Row] = []
    baselines: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="menagerie-bench-runs-") as folder:
        root = Path(folder)
        for n, url in enumerate(brokers):
            name = _name(url)
            baselines[name] = await _bare(url)
            rows.append(Row(name, "bare taskiq kicks (baseline)", RUNS, baselines[name]))
            rows.append(await _runs(url, root / f"runs-{n}"))
            rows.append(await _gary_tasks(url, root / f"gary-{n}", root))
    return rows, baselines


def run() -> Table:
    rows, baselines = asyncio.run(_measure())
    table = Table(title=TITLE, box=box.SIMPLE)
    for column in ("broker", "what", "n", "per second", "vs bare taskiq", "to running p50 / p99"):
        table.add_column(column, justify="left" if column in ("broker", "what") else "right")
    for row in rows:
        ratio = row.per_second / baselines[row.broker]
        waits = (
            f"{row.to_running_p50_ms:.1f} / {row.to_running_p99_ms:.1f} ms"
            if row.to_running_p50_ms is not None and row.to_running_p99_ms is not None
            else "-"
        )
        table.add_row(
            row.broker, row.what, str(row.count), f"{row.per_second:,.0f}", f"{ratio:.3f}x", waits
        )
    table.caption = f"{RUNS} runs and {TASKS} tasks per broker, {CONCURRENCY} at once"
    return table
