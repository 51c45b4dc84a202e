"""Memory search latency at 10k and 100k memories for one tenant.

The store is filled through a bulk insert (the full-text index is kept by the same triggers
as a normal save), then `MemoryService.search` answers two-word queries drawn from the same
vocabulary. The baseline, measured in the same run on the same database, is
`MemoryService.get` of one memory by id: a primary-key lookup through the same session and
mapping code, so the ratio is the cost of the search itself. Then 50 deletes, each of which
the full-text index must follow (target: as cheap as a write, not a scan). Runs on SQLite, and on
PostgreSQL when `MENAGERIE_BENCH_DATABASE_URL` names a database (it is filled and emptied).
Both engines are filled alike, then asked the same queries in turn, query by query (the first
engine alternating): on a shared machine whose load changes during the run, both are measured
under the same load.

Vectors on and off, in the same run on the same store: every memory gets a vector (the sum of
its words' MiniLM vectors, normalised: embedding 100k texts for real would take minutes, and a
search's cost does not depend on what the vectors mean), then each query is searched in
`keyword` mode (off: the search as it was) and in `hybrid` mode (on: the query embedded by the
real model, the text and vector legs fused). Ingest: `save` of one memory with its embedding
(p50 of 50) beside the same without an embedder.

`MENAGERIE_BENCH_MEMORY_SIZES=1000,5000` runs smaller sizes for a quick look.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path

import numpy as np
from rich.table import Table
from sqlalchemy import delete, insert, select, text

from bench.checks import sized
from menagerie.core.clock import utcnow
from menagerie.core.identity.models import ADMIN, Principal
from menagerie.core.ids import new_id
from menagerie.core.memory import search
from menagerie.core.memory.embedding import default_embedder
from menagerie.core.memory.service import MemoryService, draft
from menagerie.core.memory.tables import MemoryEmbeddingRow, MemoryRow
from menagerie.platform import Platform
from menagerie.settings import Settings

TITLE = "Memory search latency"
SIZES = tuple(
    int(size)
    for size in os.environ.get("MENAGERIE_BENCH_MEMORY_SIZES", sized("10000,100000", "200")).split(
        ","
    )
)
QUERIES = sized(300, 10)
DELETES = sized(50, 5)
INGESTS = sized(50, 5)
WARMUP = sized(20, 2)
BATCH = 5000
TARGET_P95_MS = 25.0
WORDS = [
    "python",
    "rust",
    "typescript",
    "react",
    "docker",
    "kubernetes",
    "postgres",
    "redis",
    "kafka",
    "terraform",
    "linux",
    "coffee",
    "tea",
    "running",
    "cycling",
    "piano",
    "guitar",
    "novel",
    "poetry",
    "garden",
    "cooking",
    "pasta",
    "curry",
    "sushi",
    "berlin",
    "lisbon",
    "tokyo",
    "nairobi",
    "lima",
    "boston",
    "travel",
    "museum",
    "hiking",
    "climbing",
    "chess",
    "football",
    "meeting",
    "deadline",
    "budget",
    "roadmap",
    "design",
    "review",
    "testing",
    "deploy",
    "incident",
    "backup",
    "security",
    "morning",
    "evening",
    "weekend",
    "holiday",
    "birthday",
    "family",
    "friend",
    "colleague",
    "manager",
    "team",
    "startup",
    "prefers",
    "likes",
    "dislikes",
    "uses",
    "works",
    "lives",
    "studies",
    "builds",
    "writes",
    "reads",
    "plays",
    "learns",
]


def _content(rng: random.Random) -> str:
    return "The user " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14)))


async def _word_vectors() -> dict[str, np.ndarray] | None:
    embedder = default_embedder()
    if not embedder.available:
        return None
    vectors = await embedder.embed_array(["The user", *WORDS])
    return dict(zip(["The user", *WORDS], vectors, strict=True))


def _vector_row(memory: dict, words: dict[str, np.ndarray]) -> dict:
    content = memory["content"]
    summed = words["The user"] + sum(words[w] for w in content.split()[2:])
    blob, scale = search.quantise(summed / np.linalg.norm(summed))
    return {
        "memory_id": memory["id"],
        "tenant_id": memory["tenant_id"],
        "user_id": memory["user_id"],
        "model": default_embedder().model,
        "dims": len(summed),
        "scale": scale,
        "vector": blob,
        "updated_at": memory["updated_at"],
    }


async def _fill(
    platform: Platform,
    principal: Principal,
    count: int,
    rng: random.Random,
    words: dict[str, np.ndarray] | None,
) -> str:
    now = utcnow()
    first_id = ""
    if not platform.database.is_sqlite:  # SQLite gets a fresh file per size (see run)
        async with platform.database.session() as session:
            await session.execute(
                delete(MemoryRow).where(MemoryRow.tenant_id == principal.tenant_id)
            )
    for start in range(0, count, BATCH):
        rows = []
        for _ in range(min(BATCH, count - start)):
            content = _content(rng)
            rows.append(
                {
                    "id": new_id("mem"),
                    "tenant_id": principal.tenant_id,
                    "user_id": principal.user_id,
                    "category": rng.choice(("context", "user_preferences", "facts")),
                    "content": content,
                    "value": content,
                    "importance": round(rng.random(), 2),
                    "tags": [],
                    "meta": {},
                    "created_at": now,
                    "updated_at": now,
                    "access_count": 0,
                }
            )
        first_id = first_id or rows[0]["id"]
        async with platform.database.session() as session:
            await session.execute(insert(MemoryRow), rows)
            if words is not None:
                vectors = [_vector_row(row, words) for row in rows]
                await session.execute(insert(MemoryEmbeddingRow), vectors)
    if not platform.database.is_sqlite:
        # what autovacuum does to a table grown this much: without statistics the planner
        # takes the tenant's index and computes to_tsvector for every row (30x slower), and
        # the rows the fill deleted (the last size's, the last run's) stay in the table and
        # its indexes until a VACUUM, for every search to step over (a server may run with
        # autovacuum off, or not have come to the table yet: 100k of them made a search of
        # 200 memories take 300 ms)
        async with platform.database.engine.connect() as connection:
            vacuum = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await vacuum.execute(text("VACUUM ANALYZE memories"))
            await vacuum.execute(text("VACUUM ANALYZE memory_embeddings"))
    return first_id


async def _ingest(
    platform: Platform, principal: Principal, rng: random.Random
) -> tuple[float, float]:
    """p50 of `save` with the embedder (on) and without (off), INGESTS memories each."""
    timings: dict[bool, list[float]] = {True: [], False: []}
    services = {True: platform.memory, False: MemoryService(platform.database)}
    for _ in range(INGESTS):
        for on in (True, False):
            memory = draft(category="context", content=_content(rng))
            started = time.perf_counter()
            await services[on].save(principal, memory)
            timings[on].append((time.perf_counter() - started) * 1000)
    return statistics.median(timings[True]), statistics.median(timings[False])


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _started(url: str, data_dir: Path) -> tuple[Platform, Principal]:
    settings = Settings(data_dir=data_dir, database_url=url, log_level="WARNING", _env_file=None)
    platform = Platform.build(settings)
    platform.memory_backfill = None  # the store's vectors are the bench's own
    await platform.start()
    assert platform.bootstrap_result is not None
    principal = Principal(
        platform.bootstrap_result.tenant_id,
        platform.bootstrap_result.admin_user_id,
        frozenset({ADMIN}),
    )
    return platform, principal


async def _timed(call: Awaitable[object], into: list[float]) -> None:
    started = time.perf_counter()
    await call
    into.append((time.perf_counter() - started) * 1000)


async def _measure(
    size: int, engines: list[tuple[str, str, Path]]
) -> list[tuple[str, int, dict[str, float]]]:
    """Every engine filled alike, then the same queries on each in turn, query by query: a
    machine that gets busier during the run slows all engines alike, not the last one."""
    words = await _word_vectors()
    started: list[tuple[str, Platform, Principal, str]] = []
    results = []
    try:
        for label, url, data_dir in engines:
            platform, principal = await _started(url, data_dir)
            started.append((label, platform, principal, ""))
            some_id = await _fill(platform, principal, size, random.Random(7), words)
            started[-1] = (label, platform, principal, some_id)
        rng = random.Random(size)
        for _ in range(WARMUP):  # warm caches, the connection pools and the model
            query = " ".join(rng.sample(WORDS, 2))
            for _, platform, principal, _ in started:
                await platform.memory.search(principal, query)
        timings: dict[str, dict[str, list[float]]] = {
            label: {"lookup": [], "keyword": [], "hybrid": []} for label, *_ in started
        }
        for n in range(QUERIES):
            query = " ".join(rng.sample(WORDS, 2))
            # the engines take turns at going first
            for label, platform, principal, some_id in started[:: 1 if n % 2 else -1]:
                times = timings[label]
                await _timed(platform.memory.get(principal, some_id), times["lookup"])
                search = platform.memory.search
                await _timed(search(principal, query, limit=10, mode="keyword"), times["keyword"])
                if words is not None:
                    await _timed(search(principal, query, limit=10, mode="hybrid"), times["hybrid"])
        for label, platform, principal, some_id in started:
            ingest_on, ingest_off = await _ingest(platform, principal, random.Random(11))
            async with platform.database.session() as session:
                doomed = (
                    await session.scalars(
                        select(MemoryRow.id)
                        .where(MemoryRow.tenant_id == principal.tenant_id, MemoryRow.id != some_id)
                        .limit(DELETES)
                    )
                ).all()
            deletes: list[float] = []
            for memory_id in doomed:  # the full-text index follows each one (a trigger)
                await _timed(platform.memory.delete(principal, memory_id), deletes)
            times = timings[label]
            hybrid = times["hybrid"]
            results.append(
                (
                    label,
                    size,
                    {
                        "lookup_p50": statistics.median(times["lookup"]),
                        "p50": statistics.median(times["keyword"]),
                        "p95": _percentile(times["keyword"], 0.95),
                        "hybrid_p50": statistics.median(hybrid) if hybrid else float("nan"),
                        "hybrid_p95": _percentile(hybrid, 0.95) if hybrid else float("nan"),
                        "ingest_off_p50": ingest_off,
                        "ingest_on_p50": ingest_on,
                        "delete_p50": statistics.median(deletes),
                    },
                )
            )
            if not platform.database.is_sqlite:
                async with platform.database.session() as session:
                    await session.execute(
                        delete(MemoryRow).where(MemoryRow.tenant_id == principal.tenant_id)
                    )
    finally:
        for _, platform, _, _ in started:
            await platform.stop()
    return results


def run() -> Table:
    rows: list[tuple[str, int, dict[str, float]]] = []
    postgres = os.environ.get("MENAGERIE_BENCH_DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="menagerie-bench-memory-") as tmp:
        for size in SIZES:
            # a fresh SQLite file per size: emptying a large store would cost more than
            # filling it; PostgreSQL's store is emptied by the fill
            engines = [
                ("sqlite", f"sqlite+aiosqlite:///{Path(tmp) / f'bench-{size}.db'}", "data"),
                *([("postgresql", postgres, "data-pg")] if postgres else []),
            ]
            rows += asyncio.run(
                _measure(size, [(e, url, Path(tmp) / f"{d}-{size}") for e, url, d in engines])
            )
    rows.sort(key=lambda row: (row[0] != "sqlite", row[1]))  # SQLite's sizes, then PostgreSQL's
    table = Table(
        title=f"{TITLE}: limit 10, {QUERIES} queries per size, vectors off (keyword) and on "
        f"(hybrid) (target p95 < {TARGET_P95_MS:g} ms)"
    )
    for column in (
        "database",
        "memories",
        "lookup p50 ms",
        "off p50 ms",
        "off p95 ms",
        "on p50 ms",
        "on p95 ms",
        "ingest off p50 ms",
        "ingest on p50 ms",
        "delete p50 ms",
    ):
        table.add_column(column, justify="right")
    for label, size, numbers in rows:
        table.add_row(
            label,
            f"{size:,}",
            f"{numbers['lookup_p50']:.2f}",
            f"{numbers['p50']:.2f}",
            f"{numbers['p95']:.2f}",
            f"{numbers['hybrid_p50']:.2f}",
            f"{numbers['hybrid_p95']:.2f}",
            f"{numbers['ingest_off_p50']:.2f}",
            f"{numbers['ingest_on_p50']:.2f}",
            f"{numbers['delete_p50']:.2f}",
        )
    return table
