"""A full chat turn with the offline model: in-process, over HTTP, and in a long session.

Baseline, measured in the same run: one call of the offline model through the router alone
(no storage, no memory, no agent). Then:

- **turn, fresh session**: `AgentRuntime.complete` in a new session: the user's message
  stored, memories searched, the model streamed, the answer stored, memories extracted;
- **turn, 10,000-message session**: the same turn in a session that already holds 10,000
  messages; history is read through the (session, position) index in a window, so this
  should stay within 1.5x of the fresh session;
- **HTTP turn**: `POST /podplay/api/chat/mama-bear` on a real uvicorn server on loopback
  (server overhead = HTTP turn - in-process turn), and **first SSE chunk**: the time until
  the first `chunk` event of the same request with `stream: true`.

**engine ms** is a turn's p50 minus the model call's: what Menagerie adds to the model. The
caption also counts one turn's SQL statements and commits in each session (engine events on
the real engine, the turn's own task only): the same in both, whatever the history's length.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn
from pydantic import SecretStr
from rich.table import Table
from sqlalchemy import event, insert, update

from bench.checks import BenchmarkFailed, sized
from menagerie.app import create_app
from menagerie.core.agents.runtime import TurnRequest
from menagerie.core.chat.tables import ChatMessageRow, ChatSessionRow
from menagerie.core.clock import utcnow
from menagerie.core.identity.models import ADMIN, Principal
from menagerie.core.ids import new_id
from menagerie.core.llm.models import ChatMessage
from menagerie.platform import Platform
from menagerie.settings import Settings

TITLE = "A chat turn with the offline model"
TURNS = sized(60, 3)
LONG_SESSION = sized(10_000, 50)
WARMUP = sized(5, 1)
MESSAGE = "Hello there, I work with Python and I prefer short answers."
MASTER_KEY = "bench-master-key-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _timed(count: int, action) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(count):
        started = time.perf_counter()
        await action()
        times.append((time.perf_counter() - started) * 1000)
    return times


@contextlib.contextmanager
def _counting(platform: Platform, tally: list[int]) -> Iterator[None]:
    """Statements (`tally[0]`) and commits (`tally[1]`) of the current task while inside:
    the usage ledger's flush and other background work run in tasks of their own."""
    task = asyncio.current_task()
    engine = platform.database.engine.sync_engine

    def executed(*_args: object) -> None:
        if asyncio.current_task() is task:
            tally[0] += 1

    def committed(*_args: object) -> None:
        if asyncio.current_task() is task:
            tally[1] += 1

    event.listen(engine, "before_cursor_execute", executed)
    event.listen(engine, "commit", committed)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", executed)
        event.remove(engine, "commit", committed)


async def _long_session(platform: Platform, principal: Principal) -> str:
    session = await platform.chat.create_session(principal, "chat-assistant-001")
    now = utcnow()
    rows = [
        {
            "id": new_id("msg"),
            "session_id": session.id,
            "tenant_id": principal.tenant_id,
            "user_id": principal.user_id,
            "position": position,
            "role": "user" if position % 2 else "agent",
            "content": f"message {position}: " + "words of an old conversation " * 6,
            "input_tokens": 0,
            "output_tokens": 0,
            "cost": 0.0,
            "meta": {},
            "created_at": now,
        }
        for position in range(1, LONG_SESSION + 1)
    ]
    async with platform.database.session() as db:
        await db.execute(insert(ChatMessageRow), rows)
        await db.execute(
            update(ChatSessionRow)
            .where(ChatSessionRow.id == session.id)
            .values(message_count=LONG_SESSION, last_message_at=now)
        )
    return session.id


async def _measure(data_dir: Path) -> tuple[dict[str, list[float]], dict[str, list[int]]]:
    """Each case's times in ms, and one turn's statements and commits in each session."""
    settings = Settings(
        data_dir=data_dir,
        offline_token_delay_ms=0,
        log_level="WARNING",
        rate_limits_enabled=False,
        master_key=SecretStr(MASTER_KEY),
        # the embedded local model's first start builds its runtime in the background, a
        # core's worth of CPU for seconds that the first cases would be measured beside
        local_model="off",
        _env_file=None,
    )
    platform = Platform.build(settings)
    app = create_app(platform=platform)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, no event)
        await asyncio.sleep(0.05)
    try:
        assert platform.bootstrap_result is not None
        principal = Principal(
            platform.bootstrap_result.tenant_id,
            platform.bootstrap_result.admin_user_id,
            frozenset({ADMIN}),
        )
        router = platform.agents.router

        async def model_only() -> None:
            async for _ in router.stream(
                [ChatMessage("user", MESSAGE)], tenant_id=principal.tenant_id
            ):
                pass

        async def fresh_turn() -> None:
            await platform.agents.complete(principal, TurnRequest("chat-assistant-001", MESSAGE))

        long_id = await _long_session(platform, principal)

        async def long_turn() -> None:
            await platform.agents.complete(
                principal, TurnRequest("chat-assistant-001", MESSAGE, session_id=long_id)
            )

        results: dict[str, list[float]] = {}
        counts: dict[str, list[int]] = {}
        for name, action in (
            ("model call (baseline)", model_only),
            ("turn, fresh session", fresh_turn),
            (f"turn, {LONG_SESSION:,}-message session", long_turn),
        ):
            await _timed(WARMUP, action)
            if action is not model_only:
                counts[name] = [0, 0]
                with _counting(platform, counts[name]):
                    await action()
            results[name] = await _timed(TURNS, action)

        headers = {"Authorization": f"Bearer {MASTER_KEY}"}
        url = f"http://127.0.0.1:{port}/podplay/api/chat/mama-bear"
        async with httpx.AsyncClient(headers=headers, timeout=30, trust_env=False) as client:

            async def http_turn() -> None:
                response = await client.post(url, json={"message": MESSAGE})
                if not response.is_success:
                    raise BenchmarkFailed(
                        "chat", [f"HTTP turn: {response.status_code} {response.text[:300]}"]
                    )

            await _timed(WARMUP, http_turn)
            results["HTTP turn (PodPlay)"] = await _timed(TURNS, http_turn)
            first_chunks = []
            failures: list[str] = []
            for _ in range(TURNS):
                started = time.perf_counter()
                async with client.stream(
                    "POST", url, json={"message": MESSAGE, "stream": True}
                ) as response:
                    first = None
                    last = ""
                    async for line in response.aiter_lines():
                        if first is None and '"type":"chunk"' in line:
                            first = (time.perf_counter() - started) * 1000
                        if line.strip():
                            last = line.strip()
                # a stream that failed (non-2xx, an error event instead of [DONE], no chunk)
                # would time the failure
                if not response.is_success or first is None or last != "data: [DONE]":
                    failures.append(f"HTTP {response.status_code}, last event {last[:200]!r}")
                    continue
                first_chunks.append(first)
            if failures:
                raise BenchmarkFailed(
                    "chat", [f"{len(failures)} of {TURNS} streamed turns failed", failures[0]]
                )
            results["first SSE chunk (PodPlay)"] = first_chunks
        return results, counts
    finally:
        server.should_exit = True
        await serving


def run() -> Table:
    with tempfile.TemporaryDirectory(prefix="menagerie-bench-chat-") as tmp:
        results, counts = asyncio.run(_measure(Path(tmp) / "data"))
    baseline = statistics.median(results["model call (baseline)"])
    fresh = statistics.median(results["turn, fresh session"])
    table = Table(title=f"{TITLE} (SQLite, {TURNS} turns each, medians)")
    for column in ("case", "p50 ms", "p95 ms", "engine ms", "x model", "x fresh"):
        table.add_column(column, justify="right")
    for name, times in results.items():
        p50 = statistics.median(times)
        p95 = sorted(times)[int(0.95 * (len(times) - 1))]
        # the first chunk is not a whole turn, and the baseline is the model itself
        engine = f"{p50 - baseline:.2f}" if "turn" in name else ""
        table.add_row(
            name,
            f"{p50:.2f}",
            f"{p95:.2f}",
            engine,
            f"{p50 / baseline:.1f}x",
            f"{p50 / fresh:.2f}x",
        )
    http = statistics.median(results["HTTP turn (PodPlay)"])
    counted = "; ".join(
        f"{name.removeprefix('turn, ')}: {statements} statements, {commits} commits"
        for name, (statements, commits) in counts.items()
    )
    table.caption = (
        f"server overhead per turn (HTTP - in-process): {http - fresh:.2f} ms\n"
        f"one turn's SQL ({counted})"
    )
    return table
