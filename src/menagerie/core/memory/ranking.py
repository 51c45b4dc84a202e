"""How a search's candidates become its answer: each mode's scores, and the winners read
whole with their access counted."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime

import numpy as np
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.clock import as_utc
from menagerie.core.errors import Invalid
from menagerie.core.memory import search
from menagerie.core.memory.models import ScoredMemory
from menagerie.core.memory.scope import to_memory
from menagerie.core.memory.search import SEARCH_MODES, SearchMode
from menagerie.core.memory.tables import MemoryRow


async def first(vectors: Awaitable[np.ndarray | None]) -> np.ndarray | None:
    found = await vectors
    return found[0] if found is not None else None


def keyword_scores(
    candidates: list[search.Candidate], now: datetime, *, has_query: bool
) -> list[tuple[float, str]]:
    return [
        (
            search.fuse(
                c.text_score,
                c.importance,
                search.recency(as_utc(c.updated_at), now),
                has_query=has_query,
            ),
            c.id,
        )
        for c in candidates
    ]


def ranked_scores(
    candidates: list[search.Candidate], hits: list[search.VectorHit], now: datetime
) -> list[tuple[float, str]]:
    """Reciprocal rank fusion of the text leg (when it ran) and the vector leg."""
    weights = (search.TEXT_RANK_WEIGHT if candidates else 0.0, 1.0)
    text_rank = {c.id: rank for rank, c in enumerate(candidates, 1)}
    vector_rank = {hit.id: rank for rank, hit in enumerate(hits, 1)}
    seen: dict[str, tuple[float, datetime]] = {
        c.id: (c.importance, c.updated_at) for c in candidates
    }
    for hit in hits:
        seen.setdefault(hit.id, (hit.importance, hit.updated_at))
    return [
        (
            search.fuse_ranked(
                search.reciprocal_rank(
                    [text_rank.get(memory_id), vector_rank.get(memory_id)], weights
                ),
                importance,
                search.recency(as_utc(updated_at), now),
            ),
            memory_id,
        )
        for memory_id, (importance, updated_at) in seen.items()
    ]


async def winners(
    session: AsyncSession, scored: list[tuple[float, str]], now: datetime
) -> list[ScoredMemory]:
    """The ranked memories, read whole, their access counted: the last statements of a
    search's own transaction (on PostgreSQL its commit does not wait for the disk)."""
    if not scored:
        return []
    winners = [memory_id for _, memory_id in scored]
    rows = {
        row.id: row
        # by id alone: the candidates were already scoped and filtered, and with the
        # tenant's conditions too the planner may walk the tenant's index instead
        for row in await session.scalars(select(MemoryRow).where(MemoryRow.id.in_(winners)))
    }
    ranked = [
        ScoredMemory(to_memory(rows[memory_id]), score)
        for score, memory_id in scored
        if memory_id in rows
    ]
    if session.get_bind().dialect.name == "postgresql":
        # The count is all a search writes, and waiting for its WAL to reach the disk was
        # most of the count's cost (update and commit 3.7 ms p50, 0.35 ms without the wait):
        # a crash within a fraction of a second after a search may lose its count, never a
        # memory or anything else (SET LOCAL: this transaction only, and nothing but the
        # count is written after it).
        await session.execute(text("SET LOCAL synchronous_commit = off"))
    await session.execute(
        update(MemoryRow)
        .where(MemoryRow.id.in_(winners))
        .values(last_accessed_at=now, access_count=MemoryRow.access_count + 1)
        # the returned memories are already built; nothing in the session to refresh
        .execution_options(synchronize_session=False)
    )
    return ranked


def check_mode(mode: str) -> SearchMode:
    if mode not in SEARCH_MODES:
        raise Invalid(
            f"mode: must be one of {', '.join(SEARCH_MODES)}", field="mode", received=mode
        )
    return mode  # type: ignore[return-value]
