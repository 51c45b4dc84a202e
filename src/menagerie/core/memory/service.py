"""The memory store: save (upsert by category and key), list, search, delete, prune.

Every call is scoped to the caller's tenant and user; another tenant's memory is answered
exactly as a missing one. Expired memories are never returned and are removed by pruning.
With an embedder, each save stores the memory's vector in the same transaction, search
fuses words and meaning (`search.SearchMode`), and `backfill_embeddings` embeds the memories
saved before (or without) one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError

from menagerie.core.clock import as_utc, utcnow
from menagerie.core.errors import NotFound, QuotaExceeded
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.memory import curation, ranking, scope, search, vectors
from menagerie.core.memory.curation import CategoryCount
from menagerie.core.memory.embedding import default_embedder
from menagerie.core.memory.models import Memory, MemoryDraft, ScoredMemory
from menagerie.core.memory.search import SearchMode
from menagerie.core.memory.tables import MemoryEmbeddingRow, MemoryRow
from menagerie.core.paging import check_page
from menagerie.settings import Settings
from menagerie.storage.database import Database

MAX_LIST_LIMIT = 200
VECTOR_CANDIDATES = 2000  # the scope's most recent memories the vector leg ranks

log = logging.getLogger(__name__)


def draft(**fields: Any) -> MemoryDraft:
    """A validated draft; a bad field is `Invalid` naming it (as `MemoryDraft` itself raises)."""
    return MemoryDraft(**fields)


class MemoryService:
    def __init__(
        self,
        database: Database,
        *,
        quota_per_tenant: int | None = None,
        embedder: search.Embedder | None = None,
        search_mode: SearchMode = "hybrid",
        vector_candidates: int = VECTOR_CANDIDATES,
    ) -> None:
        self._db = database
        self.quota_per_tenant = quota_per_tenant
        self._embedder = embedder
        self.search_mode = ranking.check_mode(search_mode)
        self.vector_candidates = vector_candidates
        self._embed_failed = False

    @classmethod
    def from_settings(cls, database: Database, settings: Settings) -> MemoryService:
        return cls(
            database,
            quota_per_tenant=settings.memory_quota_per_tenant,
            embedder=default_embedder() if settings.memory_embeddings else None,
            search_mode=settings.memory_search_mode,
            vector_candidates=settings.memory_vector_candidates,
        )

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

    async def save(self, principal: Principal, memory: MemoryDraft) -> Memory:
        # embedded before the transaction: no connection is held while the model runs
        embedded = await self._vectors([memory.text()])
        vector = embedded[0] if embedded is not None else None
        now = utcnow()
        identity = scope.identity(principal, memory)
        values: dict[str, Any] = {
            "agent_id": memory.agent_id,
            "session_id": memory.session_id,
            "category": memory.category,
            "key": memory.key,
            "content": memory.text(),
            "value": memory.value if memory.value is not None else memory.text(),
            "importance": memory.importance,
            "tags": list(memory.tags),
            "meta": dict(memory.metadata),
            "context": memory.context,
            "expires_at": as_utc(memory.expires_at) if memory.expires_at else None,
            "updated_at": now,
        }
        for _ in range(3):
            try:
                async with self._db.session() as session:
                    if memory.session_id is not None:
                        await scope.check_session(session, principal, memory.session_id)
                    if identity is not None:
                        existing = await session.scalar(
                            select(MemoryRow).where(MemoryRow.identity == identity)
                        )
                        if existing is not None:
                            changed = existing.content != values["content"]
                            for name, value in values.items():
                                setattr(existing, name, value)
                            await session.flush()
                            await vectors.store_vector(
                                session, existing, vector, model=self._model, changed=changed
                            )
                            return scope.to_memory(existing)
                    await self._check_quota(session, principal.tenant_id)
                    row = MemoryRow(
                        id=new_id("mem"),
                        tenant_id=principal.tenant_id,
                        user_id=principal.user_id,
                        identity=identity,
                        created_at=now,
                        access_count=0,
                        **values,
                    )
                    session.add(row)
                    await session.flush()
                    await vectors.store_vector(session, row, vector, model=self._model, new=True)
                    return scope.to_memory(row)
            except IntegrityError as exc:
                # the same key saved at once by another request: update theirs; the backfill
                # storing this memory's vector at the same moment: store ours over it
                message = str(exc.orig).lower()
                if "memory_embeddings" in message:
                    continue
                if identity is None or "identity" not in message:
                    if memory.session_id is not None:
                        raise NotFound(
                            f"chat session {memory.session_id} not found",
                            reason="SESSION_NOT_FOUND",
                        ) from None
                    raise
        raise AssertionError("unreachable")

    async def _check_quota(self, session: Any, tenant_id: str) -> None:
        if self.quota_per_tenant is None:
            return
        count = await session.scalar(
            select(func.count()).select_from(MemoryRow).where(MemoryRow.tenant_id == tenant_id)
        )
        if int(count or 0) >= self.quota_per_tenant:
            raise QuotaExceeded(
                f"the memory quota of {self.quota_per_tenant} memories is reached; "
                "delete or prune some first",
                reason="MEMORY_QUOTA_EXCEEDED",
                details={"limit": self.quota_per_tenant},
            )

    async def get(self, principal: Principal, memory_id: str) -> Memory:
        async with self._db.session() as session:
            row = await session.scalar(
                select(MemoryRow).where(MemoryRow.id == memory_id, *scope.live(principal, utcnow()))
            )
            if row is None:
                raise NotFound(f"memory {memory_id} not found", reason="MEMORY_NOT_FOUND")
            return scope.to_memory(row)

    async def delete(self, principal: Principal, memory_id: str) -> None:
        async with self._db.session() as session:
            result = await session.execute(
                delete(MemoryRow).where(MemoryRow.id == memory_id, *scope.owned(principal))
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise NotFound(f"memory {memory_id} not found", reason="MEMORY_NOT_FOUND")

    async def list(
        self,
        principal: Principal,
        *,
        agent_id: str | None = None,
        session_id: str | None = None,
        category: str | None = None,
        categories: Sequence[str] | None = None,
        min_importance: float | None = None,
        session_scope: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Memory]:
        """Newest first. `session_scope`: that session's memories and those of no session."""
        check_page(limit, offset)
        conditions = scope.live(principal, utcnow())
        conditions += scope.narrow(agent_id, session_id, category, categories)
        if session_scope is not None:
            conditions.append(scope.in_scope(session_scope))
        if min_importance is not None:
            conditions.append(MemoryRow.importance >= min_importance)
        async with self._db.session() as session:
            rows = await session.scalars(
                select(MemoryRow)
                .where(*conditions)
                .order_by(MemoryRow.created_at.desc(), MemoryRow.id)
                .limit(limit)
                .offset(offset)
            )
            return [scope.to_memory(row) for row in rows]

    async def count(self, principal: Principal, *, categories: Sequence[str] | None = None) -> int:
        conditions = scope.live(principal, utcnow()) + scope.narrow(None, None, None, categories)
        async with self._db.session() as session:
            total = await session.scalar(
                select(func.count()).select_from(MemoryRow).where(*conditions)
            )
            return int(total or 0)

    async def categories(self, principal: Principal) -> list[CategoryCount]:
        """The categories of the caller's live memories, with how many each holds."""
        async with self._db.session() as session:
            return await curation.categories(session, principal, utcnow())

    async def set_importance(
        self, principal: Principal, memory_id: str, importance: float
    ) -> Memory:
        async with self._db.session() as session:
            return await curation.set_importance(
                session, principal, memory_id, importance, utcnow()
            )

    async def prune(
        self,
        principal: Principal,
        *,
        older_than: datetime | None = None,
        importance_less_than: float | None = None,
        category: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        session_scope: str | None = None,
    ) -> int:
        """Remove the caller's memories matching every filter given, and all expired ones."""
        now = utcnow()
        filters = scope.narrow(agent_id, session_id, category, None)
        if session_scope is not None:
            filters.append(scope.in_scope(session_scope))
        if older_than is not None:
            filters.append(MemoryRow.created_at < as_utc(older_than))
        if importance_less_than is not None:
            filters.append(MemoryRow.importance < importance_less_than)
        expired = MemoryRow.expires_at.is_not(None) & (MemoryRow.expires_at <= now)
        has_filter = older_than is not None or importance_less_than is not None or category
        matching: ColumnElement[bool] = expired
        if has_filter:
            matching = or_(expired, and_(*filters))
        elif filters:  # only a scope (agent or session) was given: its expired ones
            matching = and_(expired, *filters)
        async with self._db.session() as session:
            result = await session.execute(
                delete(MemoryRow).where(*scope.owned(principal), matching)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

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
        check_page(limit, 0)
        mode = ranking.check_mode(mode or self.search_mode)
        now = utcnow()
        words = search.terms(query)
        narrow = [scope.unexpired(now), *scope.narrow(agent_id, None, category, None)]
        conditions = scope.owned(principal) + narrow
        user_id = None if principal.is_admin else principal.user_id
        embedder = self.embedder if words and mode != "keyword" else None
        # the query's vector is computed in the embedder's thread while the text leg runs
        meaning = asyncio.ensure_future(self._vectors([query])) if embedder else None
        try:
            async with self._db.session() as session:
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
                scored = sorted(scored, key=lambda pair: (-pair[0], pair[1]))[:limit]
                return await ranking.winners(session, scored, now)
        finally:
            if meaning is not None and not meaning.done():
                meaning.cancel()

    async def backfill_embeddings(self, batch: int = 64) -> vectors.BackfillProgress:
        """Embed up to `batch` memories that have no vector of the embedder's model (saved
        before the embeddings existed, while no embedder worked, or by another model), newest
        first, and say how far the whole store is. Search finds the others by their words
        meanwhile. Safe beside saves and other backfills: a memory changed or deleted while
        its text was embedded is left for the next pass, a vector stored at the same moment by
        a save is kept."""
        embedder = self.embedder
        if embedder is None:
            async with self._db.session() as session:
                total = await session.scalar(select(func.count()).select_from(MemoryRow))
            name = search.model_of(self._embedder) if self._embedder is not None else None
            return vectors.BackfillProgress(name, False, 0, int(total or 0))
        model = search.model_of(embedder)
        e = MemoryEmbeddingRow
        current = and_(e.memory_id == MemoryRow.id, e.model == model)
        async with self._db.session() as session:
            todo = list(
                await session.execute(
                    select(MemoryRow.id, MemoryRow.content)
                    .outerjoin(e, current)
                    .where(e.memory_id.is_(None))
                    .order_by(MemoryRow.updated_at.desc())
                    .limit(batch)
                )
            )
        done = 0
        if todo:
            found = await self._vectors([content for _, content in todo])
            if found is not None:
                done = await vectors.store_backfilled(self._db, todo, found, model)
        async with self._db.session() as session:
            embedded = await session.scalar(
                select(func.count()).select_from(e).where(e.model == model)
            )
            total = await session.scalar(select(func.count()).select_from(MemoryRow))
        embedded = int(embedded or 0)
        return vectors.BackfillProgress(
            model, True, embedded, max(int(total or 0) - embedded, 0), done
        )

    async def find_by_key(
        self, principal: Principal, key: str, *, category: str | None = None, limit: int = 20
    ) -> list[Memory]:
        """The principal's own live memories with this key (in this category when given),
        whichever agent or session saved them, most recently updated first: what a newly
        mined fact is reconciled with. Never another user's, admin or not."""
        check_page(limit, 0)
        conditions = [
            MemoryRow.tenant_id == principal.tenant_id,
            MemoryRow.user_id == principal.user_id,
            MemoryRow.key == key,
            scope.unexpired(utcnow()),
        ]
        if category is not None:
            conditions.append(MemoryRow.category == category)
        async with self._db.session() as session:
            rows = await session.scalars(
                select(MemoryRow)
                .where(*conditions)
                .order_by(MemoryRow.updated_at.desc(), MemoryRow.id)
                .limit(limit)
            )
            return [scope.to_memory(row) for row in rows]
