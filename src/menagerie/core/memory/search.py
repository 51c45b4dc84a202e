"""Full-text candidates and the fused relevance score.

Text ranking comes from the database (FTS5's bm25 on SQLite, ts_rank_cd on PostgreSQL); it is
squashed into 0..1 and fused with the memory's importance and recency, so that what a user
said that matches, matters and is recent ranks first. Vector similarity joins the fusion
through an `Embedder` when one is installed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import ColumnElement, column, func, literal_column, select, table, text

# registers PostgreSQL's typed to_tsvector/to_tsquery, which SQLAlchemy requires before they
# are built (below, at import time)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.memory.tables import FTS_TABLE, SEARCH_VECTOR, TS_CONFIG, MemoryRow

TEXT_WEIGHT = 0.6
IMPORTANCE_WEIGHT = 0.25
RECENCY_WEIGHT = 0.15
RECENCY_HALF_LIFE_DAYS = 30.0
CANDIDATES = 200  # text matches ranked further, before fusion
_TERM = re.compile(r"[\w']+", re.UNICODE)
_MAX_TERMS = 16

# The FTS5 table as SQLAlchemy sees it: enough to select from it and join it to memories.
# `rank` is FTS5's hidden column, bm25 by default.
_FTS = table(FTS_TABLE, column("memory_id"), column("tenant_id"), column("user_id"), column("rank"))
# PostgreSQL: the stored, generated tsvector of each memory's content (migration 0010),
# which the GIN index covers and the ranking reads without parsing the content again
_PG_VECTOR = literal_column(f"{MemoryRow.__tablename__}.{SEARCH_VECTOR}", type_=TSVECTOR)


class Embedder(Protocol):
    """An embedding model, the seam for an optional extra; keyword search works without one.

    Async, so that an implementation can run a local model in a thread or call a service
    without blocking the event loop. Given, it re-ranks the keyword candidates by meaning.
    """

    async def embed(self, texts: list[str]) -> list[list[float]]: ...


async def similarities(embedder: Embedder, query: str, contents: list[str]) -> list[float]:
    """Cosine similarity of the query to each content, clipped into 0..1."""
    if not contents:
        return []
    vectors = await embedder.embed([query, *contents])
    wanted, others = vectors[0], vectors[1:]
    return [max(_cosine(wanted, other), 0.0) for other in others]


def _cosine(a: list[float], b: list[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=False)) / norm if norm else 0.0


def terms(query: str) -> list[str]:
    """Plain words of a query: no operator of either search syntax survives."""
    words = [w.strip("'").lower() for w in _TERM.findall(query or "")]
    return [w for w in words if w][:_MAX_TERMS]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A text match with what fusion needs: ranking reads these, never whole memories."""

    id: str
    text_score: float  # 0..1
    importance: float
    updated_at: datetime
    content: str


async def text_candidates(
    session: AsyncSession,
    backend: str,
    tenant_id: str,
    user_id: str | None,
    words: list[str],
    filters: Sequence[ColumnElement[bool]] = (),
    want: int = 10,
    *,
    with_content: bool = False,
) -> list[Candidate]:
    """The best text matches, each with its text score in 0..1.

    Memories holding every word come first; only when they are fewer than `want` are those
    holding any of the words added. Ranking every memory that shares one common word with
    the query is what makes keyword search slow on a large store.
    """
    if not words:
        return []
    found = await _match(
        session, backend, tenant_id, user_id, words, filters, every=True, with_content=with_content
    )
    if len(found) < want and len(words) > 1:
        wider = await _match(
            session,
            backend,
            tenant_id,
            user_id,
            words,
            filters,
            every=False,
            with_content=with_content,
        )
        for candidate in wider.values():
            found.setdefault(candidate.id, candidate)
    return list(found.values())


async def _match(
    session: AsyncSession,
    backend: str,
    tenant_id: str,
    user_id: str | None,
    words: list[str],
    filters: Sequence[ColumnElement[bool]],
    *,
    every: bool,
    with_content: bool,
) -> dict[str, Candidate]:
    # The caller's filters (expiry, agent, category) apply before the candidate limit, so
    # that memories it would drop afterwards never crowd out those it wants.
    wanted = (MemoryRow.importance, MemoryRow.updated_at, MemoryRow.content)
    if not with_content:  # only an embedder reads it; long texts cost time to carry
        wanted = (MemoryRow.importance, MemoryRow.updated_at, literal_column("''"))
    if backend == "sqlite":
        # each word quoted: FTS5 reads it as a string, never as syntax
        quoted = ['"' + w.replace('"', "") + '"' for w in words]
        # ORDER BY the `rank` column (not bm25()) is sorted inside FTS5, which then hands
        # over matches best first: only those up to the limit are read and joined, where
        # bm25() makes SQLite read, join and sort every match (3x slower at 100k memories)
        rank = _FTS.c.rank
        statement = (
            select(_FTS.c.memory_id, rank, *wanted)
            .select_from(_FTS.join(MemoryRow, MemoryRow.id == _FTS.c.memory_id))
            .where(
                text(f"{FTS_TABLE} MATCH :match").bindparams(
                    match=(" " if every else " OR ").join(quoted)
                ),
                _FTS.c.tenant_id == tenant_id,
                *([_FTS.c.user_id == user_id] if user_id is not None else []),
                *filters,
            )
            .order_by(rank)
            .limit(CANDIDATES)
        )
        # bm25 is negative, more negative is better
        return {
            memory_id: Candidate(memory_id, _squash(-float(score)), importance, updated, content)
            for memory_id, score, importance, updated, content in await session.execute(statement)
        }
    query = func.to_tsquery(
        literal_column(f"'{TS_CONFIG}'"),
        (" & " if every else " | ").join(w.replace("'", "") for w in words),
    )
    rank = func.ts_rank_cd(_PG_VECTOR, query, 1).label("rank")
    statement = (
        select(MemoryRow.id, rank, *wanted)
        .where(
            MemoryRow.tenant_id == tenant_id,
            *([MemoryRow.user_id == user_id] if user_id is not None else []),
            _PG_VECTOR.bool_op("@@")(query),
            *filters,
        )
        .order_by(rank.desc())
        .limit(CANDIDATES)
    )
    return {
        memory_id: Candidate(memory_id, _squash(float(score) * 10), importance, updated, content)
        for memory_id, score, importance, updated, content in await session.execute(statement)
    }


def _squash(score: float) -> float:
    """Any non-negative score into 0..1, keeping its order."""
    return score / (1.0 + score) if score > 0 else 0.0


def recency(updated_at: datetime, now: datetime) -> float:
    age_days = max((now - updated_at).total_seconds(), 0) / 86400
    return math.pow(0.5, age_days / RECENCY_HALF_LIFE_DAYS)


def fuse(
    text_score: float,
    importance: float,
    recency_score: float,
    *,
    has_query: bool,
    similarity: float | None = None,
) -> float:
    if not has_query:
        score = 0.6 * importance + 0.4 * recency_score
    elif similarity is not None:
        # meaning takes half of the text's share: keyword matches still count the most
        score = (
            TEXT_WEIGHT / 2 * (text_score + similarity)
            + IMPORTANCE_WEIGHT * importance
            + RECENCY_WEIGHT * recency_score
        )
    else:
        score = (
            TEXT_WEIGHT * text_score
            + IMPORTANCE_WEIGHT * importance
            + RECENCY_WEIGHT * recency_score
        )
    return round(min(max(score, 0.0), 1.0), 4)
