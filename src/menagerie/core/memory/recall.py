"""Memory search, and its parts for a caller's session: a turn has its question embedded while
it stores it (`embed_soon`), ranks and reads the memories for it (`rank`, `read`), and counts
their access with its answer (`count_access`); reconciliation reads the memories resembling
a new fact without counting them.

`MemoryService` is built on it; the legs and the fusion are `search.py` and `ranking.py`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.clock import utcnow
from menagerie.core.errors import Unavailable
from menagerie.core.identity.models import Principal
from menagerie.core.memory import ranking, scope, search
from menagerie.core.memory.models import ScoredMemory
from menagerie.core.memory.search import SearchMode
from menagerie.core.memory.tables import MemoryRow
from menagerie.core.paging import check_page
from menagerie.storage.database import CONNECTION_ERRORS, Database, is_connection_error

log = logging.getLogger(__name__)


class MemorySearch:
    """Search over the memories of `_db`, with `_embedder` when one works."""

    _db: Database
    _embedder: search.Embedder | None
    _embed_failed: bool
    search_mode: SearchMode
    vector_candidates: int

    @property
    def _model(self) -> str | None:
        """The model name stored beside each vector; None without an embedder."""
        return search.model_of(self._embedder) if self._embedder is not None else None

    @property
    def embedder(self) -> search.Embedder | None:
        """The embedder in use: None when none was given or its model is not installed."""
        return self._embedder if search.is_available(self._embedder) else None

    async def _vectors(self, texts: list[str]) -> np.ndarray | None:
        """The texts' unit vectors, or None (keyword-only) without a working embedder."""
        embedder = self.embedder
        if embedder is None or not texts:
            return None
        try:
            return await search.embed(embedder, texts)
        except Exception:  # an embedder that fails costs the meaning, never the memory
            if not self._embed_failed:
                log.exception("memory embedding failed; keyword search only until it works")
            self._embed_failed = True
            return None

    async def search(
        self,
        principal: Principal,
        query: str,
        *,
        agent_id: str | None = None,
        category: str | None = None,
        limit: int = 10,
        mode: SearchMode | None = None,
    ) -> list[ScoredMemory]:
        """The caller's memories that best answer `query`, each with its relevance (0..1).

        `keyword`: full-text matches only. `vector`: the memories nearest in meaning.
        `hybrid` (the default unless the service was given another): both rankings fused.
        Without a working embedder every mode is keyword search; memories not embedded yet
        are found by their words only.
        """
        now = utcnow()
        async with self._db.session() as session:
            scored = await self.rank(
                session,
                principal,
                query,
                agent_id=agent_id,
                category=category,
                limit=limit,
                mode=mode,
                now=now,
            )
            return await ranking.winners(session, scored, now)

    async def rank(
        self,
        session: AsyncSession,
        principal: Principal,
        query: str,
        *,
        agent_id: str | None = None,
        category: str | None = None,
        limit: int = 10,
        mode: SearchMode | None = None,
        now: datetime | None = None,
        meaning: Awaitable[np.ndarray | None] | None = None,
        embed: bool = True,
    ) -> list[tuple[float, str]]:
        """`search`'s ranking, best first, as (relevance, memory id): reads only, in the
        caller's session. `meaning` is the query's vector when the caller has it or has it
        computed (`embed_soon`, `embedded`); without it the query is embedded here, while the
        text leg runs, unless `embed` is false (words only)."""
        check_page(limit, 0)
        mode = ranking.check_mode(mode or self.search_mode)
        now = now or utcnow()
        words = search.terms(query)
        narrow = [scope.unexpired(now), *scope.narrow(agent_id, None, category, None)]
        conditions = scope.owned(principal) + narrow
        user_id = None if principal.is_admin else principal.user_id
        embedder = self.embedder if words and mode != "keyword" else None
        own: asyncio.Future[np.ndarray | None] | None = None  # cancelled here when not needed
        if embedder is not None and meaning is None and embed:
            own = meaning = self.embed_soon(query)
        if embedder is None:
            meaning = None
        try:
            candidates: list[search.Candidate] = []
            if not words:
                candidates = [
                    search.Candidate(row.id, 0.0, row.importance, row.updated_at, "")
                    for row in await session.execute(
                        select(MemoryRow.id, MemoryRow.importance, MemoryRow.updated_at)
                        .where(*conditions)
                        .order_by(MemoryRow.importance.desc(), MemoryRow.updated_at.desc())
                        .limit(limit)
                    )
                ]
            elif mode != "vector":
                candidates = await search.text_candidates(
                    session,
                    self._db.backend,
                    principal.tenant_id,
                    user_id,
                    words,
                    narrow,
                    want=limit,
                )
            hits = None
            if meaning is not None and embedder is not None:
                hits = await search.vector_candidates(
                    session,
                    principal.tenant_id,
                    user_id,
                    search.model_of(embedder),
                    ranking.first(meaning),
                    narrow,
                    dims=getattr(embedder, "dims", None),
                    recent=self.vector_candidates,
                    also=[c.id for c in candidates[: search.VECTOR_RANKED]],
                    narrowed=agent_id is not None or category is not None,
                )
            if hits is None and words and mode == "vector":  # the query did not embed
                candidates = await search.text_candidates(
                    session,
                    self._db.backend,
                    principal.tenant_id,
                    user_id,
                    words,
                    narrow,
                    want=limit,
                )
            if hits is None:
                scored = ranking.keyword_scores(candidates, now, has_query=bool(words))
            else:
                scored = ranking.ranked_scores(candidates, hits, now)
            return sorted(scored, key=lambda pair: (-pair[0], pair[1]))[:limit]
        finally:
            if own is not None and not own.done():
                own.cancel()

    async def count_access(
        self, session: AsyncSession, memory_ids: Sequence[str], now: datetime
    ) -> None:
        """The memories' access counted, in the caller's transaction (a turn counts those it
        recalled with its answer)."""
        if memory_ids:
            await session.execute(
                update(MemoryRow)
                .where(MemoryRow.id.in_(list(memory_ids)))
                .values(last_accessed_at=now, access_count=MemoryRow.access_count + 1)
                .execution_options(synchronize_session=False)
            )

    async def read(
        self, session: AsyncSession, scored: Sequence[tuple[float, str]]
    ) -> list[ScoredMemory]:
        """The ranked memories read whole, their access not counted (a look by Menagerie
        itself, such as reconciling a new fact, is not a use of the memory)."""
        if not scored:
            return []
        rows = {
            row.id: row
            for row in await session.scalars(
                select(MemoryRow).where(MemoryRow.id.in_([memory_id for _, memory_id in scored]))
            )
        }
        return [
            ScoredMemory(scope.to_memory(rows[memory_id]), score)
            for score, memory_id in scored
            if memory_id in rows
        ]

    def embed_soon(self, text: str) -> asyncio.Future[np.ndarray | None] | None:
        """`text`'s vector (one row), computed from now on in the embedder's thread while the
        caller does other work; None without a working embedder or a word to embed."""
        if self.embedder is None or not search.terms(text):
            return None
        return asyncio.ensure_future(self._vectors([text]))

    @staticmethod
    def embedded(vector: np.ndarray | None) -> asyncio.Future[np.ndarray | None]:
        """A vector already computed, as `rank` takes one."""
        done: asyncio.Future[np.ndarray | None] = asyncio.get_running_loop().create_future()
        done.set_result(vector[None, :] if vector is not None else None)
        return done

    async def embed(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The texts' unit vectors by text, in one pass of the embedder; empty without a
        working one (then memories are saved without, and searched by their words)."""
        unique = list(dict.fromkeys(texts))
        found = await self._vectors(unique)
        if found is None:
            return {}
        return dict(zip(unique, found, strict=True))

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self._db.session()

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for reads alone: nothing to commit, its transaction rolled back when it
        closes. A lost database is `Unavailable`, as in `Database.session`."""
        try:
            async with self._db.sessions() as session:
                yield session
        except CONNECTION_ERRORS as exc:
            if is_connection_error(exc):
                raise Unavailable("database unavailable", service="database") from exc
            raise
