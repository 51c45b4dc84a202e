"""Full-text and vector candidates, and the fused relevance score.

Text ranking comes from the database (FTS5's bm25 on SQLite, ts_rank_cd on PostgreSQL); it is
squashed into 0..1 and fused with the memory's importance and recency, so that what a user
said that matches, matters and is recent ranks first (`keyword` mode). SQLite ranks every
match; PostgreSQL ranks the `RANKED_MATCHES` most recently updated ones (a bounded candidate
set, then the ranking), so a query whose words more of the scope's memories hold than that
does not see the older ones.

With an `Embedder`, each memory's vector is stored beside it (`memory_embeddings`, int8 with a
scale) and the vector leg ranks a bounded set by cosine similarity in NumPy: the text
candidates plus the scope's most recent memories. `hybrid` mode fuses the two rankings by
reciprocal rank (k=60), then folds importance and recency in; `vector` mode ranks by the
vector leg alone. Both read the database on every search: another process's writes and
deletes are seen at once, nothing is cached between searches.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

import numpy as np
from sqlalchemy import ColumnElement, column, func, literal_column, select, table, text

# registers PostgreSQL's typed to_tsvector/to_tsquery, which SQLAlchemy requires before they
# are built (below, at import time)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.memory.tables import (
    FTS_TABLE,
    SEARCH_VECTOR,
    TS_CONFIG,
    MemoryEmbeddingRow,
    MemoryRow,
)

SearchMode = Literal["hybrid", "keyword", "vector"]
SEARCH_MODES: tuple[SearchMode, ...] = ("hybrid", "keyword", "vector")

TEXT_WEIGHT = 0.6
IMPORTANCE_WEIGHT = 0.25
RECENCY_WEIGHT = 0.15
RECENCY_HALF_LIFE_DAYS = 30.0
CANDIDATES = 200  # text matches ranked further, before fusion
# PostgreSQL: the most matches one search ranks by ts_rank_cd, the scope's most recently
# updated ones. When more of the scope's memories match than this ("python coffee": 1,800 of
# the benchmark's 100k hold both words, "python": 13,000), the older ones are not seen,
# however well their words match. SQLite's FTS5 ranks every match (bm25, in its own sort).
# Search p50 at 100k, same store, interleaved: every match 15.2 ms, 1,000 12.4 ms, 500 10.2.
RANKED_MATCHES = 500
VECTOR_RANKED = 100  # the vector leg's best in the fusion; as many text matches get a vector rank
# a memory found by the vector leg alone is a match only when it is at least this share as
# similar to the query as the best one: nearest neighbours always exist, and the far ones of a
# small store (a dog for "typescript") are noise, whatever the absolute cosine says
RELATIVE_SIMILARITY = 0.5
RRF_K = 60
# the text leg's weight in hybrid fusion, the vector leg's being 1: its candidates include
# memories sharing any one word with the query, common words too. bench recall (hybrid
# recall@10): 1.0 -> 0.666, 0.5 -> 0.690, 0.25 -> 0.715; 0.5 keeps an exact word (a name, an
# identifier the model does not know) within reach of the first results
TEXT_RANK_WEIGHT = 0.5
# hybrid and vector modes: the fused rank decides, importance and recency break near-ties
RANK_WEIGHT = 0.85
RANKED_IMPORTANCE_WEIGHT = 0.1
RANKED_RECENCY_WEIGHT = 0.05
_TERM = re.compile(r"[\w']+", re.UNICODE)
_MAX_TERMS = 16

# The FTS5 table as SQLAlchemy sees it: enough to select from it and join it to memories.
# `rank` is FTS5's hidden column, bm25 by default.
_FTS = table(FTS_TABLE, column("memory_id"), column("tenant_id"), column("user_id"), column("rank"))
# PostgreSQL: the stored, generated tsvector of each memory's content (migration 0010),
# which the GIN index covers and the ranking reads without parsing the content again
_PG_VECTOR = literal_column(f"{MemoryRow.__tablename__}.{SEARCH_VECTOR}", type_=TSVECTOR)


class Embedder(Protocol):
    """An embedding model; keyword search works without one.

    Async, so that an implementation can run a local model in a thread or call a service
    without blocking the event loop. `model` names it in the stored rows (a vector of another
    model is never compared, and the backfill replaces it); `dims` is its vectors' width. An
    implementation may say `available = False` (its model is not installed): search is then
    keyword-only.
    """

    model: str
    dims: int

    async def embed(self, texts: list[str]) -> list[list[float]]: ...


def model_of(embedder: Embedder) -> str:
    return str(getattr(embedder, "model", None) or type(embedder).__name__)[:128]


def is_available(embedder: Embedder | None) -> bool:
    return embedder is not None and bool(getattr(embedder, "available", True))


async def embed(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Unit vectors of `texts` (float32, one row each)."""
    as_array = getattr(embedder, "embed_array", None)
    vectors = await as_array(texts) if as_array is not None else await embedder.embed(texts)
    matrix = np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def quantise(vector: np.ndarray) -> tuple[bytes, float]:
    """A unit vector as int8 bytes and the scale that turns them back into floats."""
    peak = float(np.max(np.abs(vector))) if vector.size else 0.0
    scale = peak / 127.0 if peak > 0 else 1.0
    return np.clip(np.rint(vector / scale), -127, 127).astype(np.int8).tobytes(), scale


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
    the query is what makes keyword search slow on a large store: PostgreSQL ranks only the
    `RANKED_MATCHES` most recently updated matches (after the filters), SQLite all of them.
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
    # The candidate set first, then the ranking: ts_rank_cd costs about 2 us a match (4 of
    # the 6.5 ms of "python coffee" at 100k memories, 1,800 matches; 13,000 for "python"), so
    # only the scope's RANKED_MATCHES most recently updated matches are ranked; finding and
    # reading the matches is the rest, and stays. No tie-break on the id in either sort:
    # compared under the database's collation, it cost more than the ranking saved.
    matches = (
        select(
            MemoryRow.id,
            _PG_VECTOR.label("vector"),
            *(c.label(f"c{i}") for i, c in enumerate(wanted)),
        )
        .where(
            MemoryRow.tenant_id == tenant_id,
            *([MemoryRow.user_id == user_id] if user_id is not None else []),
            _PG_VECTOR.bool_op("@@")(query),
            *filters,
        )
        .order_by(MemoryRow.updated_at.desc())
        .limit(RANKED_MATCHES)
        .subquery("matches")
    )
    rank = func.ts_rank_cd(matches.c.vector, query, 1).label("rank")
    statement = (
        select(matches.c.id, rank, *(matches.c[f"c{i}"] for i in range(len(wanted))))
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


def fuse(text_score: float, importance: float, recency_score: float, *, has_query: bool) -> float:
    """Keyword mode's score: the squashed text score, importance and recency."""
    if not has_query:
        score = 0.6 * importance + 0.4 * recency_score
    else:
        score = (
            TEXT_WEIGHT * text_score
            + IMPORTANCE_WEIGHT * importance
            + RECENCY_WEIGHT * recency_score
        )
    return round(min(max(score, 0.0), 1.0), 4)


@dataclass(frozen=True, slots=True)
class VectorHit:
    """A memory the vector leg ranked: its cosine similarity to the query (-1..1)."""

    id: str
    similarity: float
    importance: float
    updated_at: datetime


async def vector_candidates(
    session: AsyncSession,
    tenant_id: str,
    user_id: str | None,
    model: str,
    query: Awaitable[np.ndarray | None],
    filters: Sequence[ColumnElement[bool]] = (),
    *,
    dims: int | None,
    recent: int,
    also: Sequence[str] = (),
    narrowed: bool = True,
) -> list[VectorHit] | None:
    """The best `VECTOR_RANKED` by similarity among the scope's `recent` most recently updated
    memories with a vector of `model`, and the memories `also` names (the text candidates).

    The vectors are read while the query's own is still being computed (`query`, awaited
    after the read; None from it means no vector leg, and None is answered). Only memories
    at least `RELATIVE_SIMILARITY` as similar as the best take part.

    `filters` (on memories) hold for every hit. Unless `narrowed` (filters that leave out
    more than expired memories: an agent, a category), the recent vectors are read without
    joining their memories, and the filters checked on the best ones only (the join cost
    half the read at 100k memories).
    """
    e = MemoryEmbeddingRow
    of_model = [e.model == model, *([e.dims == dims] if dims is not None else [])]
    rows = []
    if recent > 0:
        recent_first = select(e.memory_id, e.scale, e.vector).where(
            e.tenant_id == tenant_id,
            *([e.user_id == user_id] if user_id is not None else []),
            *of_model,
        )
        if narrowed:
            recent_first = recent_first.join(MemoryRow, MemoryRow.id == e.memory_id).where(*filters)
        recent_first = recent_first.order_by(e.updated_at.desc()).limit(recent)
        rows = list(await session.execute(recent_first))
    seen = {row[0] for row in rows}
    missing = [memory_id for memory_id in also if memory_id not in seen]
    if missing:
        # by id alone: the text candidates are scoped and filtered already, and with the
        # tenant's conditions too the planner walks the tenant's index (65 ms at 100k)
        by_id = select(e.memory_id, e.scale, e.vector).where(e.memory_id.in_(missing), *of_model)
        rows += list(await session.execute(by_id))
    vector = await query
    if vector is None:
        return None
    rows = [row for row in rows if len(row[2]) == len(vector)]
    if not rows:
        return []
    matrix = np.frombuffer(b"".join(row[2] for row in rows), dtype=np.int8)
    matrix = matrix.reshape(len(rows), len(vector)).astype(np.float32)
    scores = (matrix @ vector.astype(np.float32)) * np.array([row[1] for row in rows], np.float32)
    best = [int(i) for i in np.argsort(-scores, kind="stable")[:VECTOR_RANKED] if scores[i] > 0]
    # importance and update time for the best only (read for thousands, they cost more than
    # the vectors themselves: each datetime parsed), and the filters checked on them
    details = {
        memory_id: (importance, updated_at)
        for memory_id, importance, updated_at in await session.execute(
            select(MemoryRow.id, MemoryRow.importance, MemoryRow.updated_at).where(
                MemoryRow.id.in_([rows[i][0] for i in best]), *filters
            )
        )
    }
    found = [i for i in best if rows[i][0] in details]
    floor = float(scores[found[0]]) * RELATIVE_SIMILARITY if found else 0.0
    return [
        VectorHit(rows[i][0], float(scores[i]), *details[rows[i][0]])
        for i in found
        if scores[i] > floor
    ]


def reciprocal_rank(ranks: Sequence[int | None], weights: Sequence[float]) -> float:
    """Weighted reciprocal rank fusion (k=60) of a memory's 1-based rank in each leg (None:
    absent there), divided by the best possible (first in every leg that ran): 0..1."""
    total = sum(w / (RRF_K + r) for r, w in zip(ranks, weights, strict=True) if r is not None)
    best = sum(weights) / (RRF_K + 1)
    return total / best if best else 0.0


def fuse_ranked(relevance: float, importance: float, recency_score: float) -> float:
    """Hybrid and vector modes' score: the fused rank first, importance and recency after."""
    score = (
        RANK_WEIGHT * relevance
        + RANKED_IMPORTANCE_WEIGHT * importance
        + RANKED_RECENCY_WEIGHT * recency_score
    )
    return round(min(max(score, 0.0), 1.0), 4)
