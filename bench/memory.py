"""Memory search latency at 10k and 100k memories for one tenant.

The store is filled through a bulk insert (the full-text index is kept by the same triggers
as a normal save), then `MemoryService.search` answers two-word queries drawn from the same
vocabulary. The baseline, measured in the same run on the same database, is
`MemoryService.get` of one memory by id: a primary-key lookup through the same session and
mapping code, so the ratio is the cost of the search itself. Then 50 deletes, each of which
the full-text index must follow (target: as cheap as a write, not a scan). Runs on SQLite, and on
PostgreSQL when `MENAGERIE_BENCH_DATABASE_URL` names a database (it is filled and emptied).

`MENAGERIE_BENCH_MEMORY_SIZES=1000,5000` runs smaller sizes for a quick look.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from rich.table import Table
from sqlalchemy import delete, insert, select, text

from menagerie.core.clock import utcnow
from menagerie.core.identity.models import ADMIN, Principal
from menagerie.core.ids import new_id
from menagerie.core.memory.tables import MemoryRow
from menagerie.platform import Platform
from menagerie.settings import Settings

TITLE = "Memory search latency"
SIZES = tuple(
    int(size) for size in os.environ.get("MENAGERIE_BENCH_MEMORY_SIZES", "10000,100000").split(",")
)
QUERIES = 300
DELETES = 50
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


async def _fill(platform: Platform, principal: Principal, count: int, rng: random.Random) -> str:
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
    if not platform.database.is_sqlite:
        # what autovacuum does to a table grown this much: without statistics the planner
        # takes the tenant's index and computes to_tsvector for every row (30x slower)
        async with platform.database.engine.connect() as connection:
            await connection.execute(text("ANALYZE memories"))
            await connection.commit()
    return first_id


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _measure(
    url: str, label: str, data_dir: Path, sizes: tuple[int, ...]
) -> list[tuple[str, int, dict[str, float]]]:
    settings = Settings(data_dir=data_dir, database_url=url, log_level="WARNING", _env_file=None)
    platform = Platform.build(settings)
    await platform.start()
    results = []
    try:
        assert platform.bootstrap_result is not None
        principal = Principal(
            platform.bootstrap_result.tenant_id,
            platform.bootstrap_result.admin_user_id,
            frozenset({ADMIN}),
        )
        rng = random.Random(7)
        for size in sizes:
            some_id = await _fill(platform, principal, size, rng)
            for _ in range(20):  # warm caches and the connection pool
                await platform.memory.search(principal, " ".join(rng.sample(WORDS, 2)))
            lookups, keyword = [], []
            for _ in range(QUERIES):
                started = time.perf_counter()
                await platform.memory.get(principal, some_id)
                lookups.append((time.perf_counter() - started) * 1000)
                query = " ".join(rng.sample(WORDS, 2))
                started = time.perf_counter()
                await platform.memory.search(principal, query, limit=10)
                keyword.append((time.perf_counter() - started) * 1000)
            async with platform.database.session() as session:
                doomed = (
                    await session.scalars(
                        select(MemoryRow.id)
                        .where(MemoryRow.tenant_id == principal.tenant_id, MemoryRow.id != some_id)
                        .limit(DELETES)
                    )
                ).all()
            deletes = []
            for memory_id in doomed:  # the full-text index follows each one (a trigger)
                started = time.perf_counter()
                await platform.memory.delete(principal, memory_id)
                deletes.append((time.perf_counter() - started) * 1000)
            results.append(
                (
                    label,
                    size,
                    {
                        "lookup_p50": statistics.median(lookups),
                        "p50": statistics.median(keyword),
                        "p95": _percentile(keyword, 0.95),
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
        await platform.stop()
    return results


def run() -> Table:
    rows: list[tuple[str, int, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="menagerie-bench-memory-") as tmp:
        # a fresh SQLite file per size: emptying a large store would cost more than filling it
        for size in SIZES:
            sqlite = f"sqlite+aiosqlite:///{Path(tmp) / f'bench-{size}.db'}"
            rows += asyncio.run(_measure(sqlite, "sqlite", Path(tmp) / f"data-{size}", (size,)))
        postgres = os.environ.get("MENAGERIE_BENCH_DATABASE_URL")
        if postgres:
            rows += asyncio.run(_measure(postgres, "postgresql", Path(tmp) / "data-pg", SIZES))
    table = Table(
        title=f"{TITLE}: keyword search, limit 10, {QUERIES} queries per size "
        f"(target p95 < {TARGET_P95_MS:g} ms)"
    )
    for column in ("database", "memories", "lookup p50 ms", "search p50 ms", "search p95 ms"):
        table.add_column(column, justify="right")
    table.add_column("p50 / lookup", justify="right")
    table.add_column("delete p50 ms", justify="right")
    for label, size, numbers in rows:
        table.add_row(
            label,
            f"{size:,}",
            f"{numbers['lookup_p50']:.2f}",
            f"{numbers['p50']:.2f}",
            f"{numbers['p95']:.2f}",
            f"{numbers['p50'] / numbers['lookup_p50']:.1f}x",
            f"{numbers['delete_p50']:.2f}",
        )
    return table
