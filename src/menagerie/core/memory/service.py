"""The memory store: save (upsert by category and key), list, search, delete, prune.

Every call is scoped to the caller's tenant and user; another tenant's memory is answered
exactly as a missing one. Expired memories are never returned and are removed by pruning.
With an embedder, each save stores the memory's vector in the same transaction, search
fuses words and meaning (`search.SearchMode`, in `recall.py`), and `backfill_embeddings`
embeds the memories saved before (or without) one. The `*_in` methods work inside a caller's
transaction (an agent turn's).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.clock import as_utc, utcnow
from menagerie.core.errors import NotFound, QuotaExceeded
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.memory import curation, ranking, scope, search, vectors
from menagerie.core.memory.curation import CategoryCount
from menagerie.core.memory.embedding import default_embedder
from menagerie.core.memory.models import Memory, MemoryDraft
from menagerie.core.memory.recall import MemorySearch
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


class MemoryService(MemorySearch):
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

    async def save(self, principal: Principal, memory: MemoryDraft) -> Memory:
        # embedded before the transaction: no connection is held while the model runs
        embedded = await self._vectors([memory.text()])
        vector = embedded[0] if embedded is not None else None
        identity = scope.identity(principal, memory)
        for _ in range(3):
            try:
                async with self._db.session() as session:
                    return await self.save_in(session, principal, memory, vector)
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

    async def save_in(
        self,
        session: AsyncSession,
        principal: Principal,
        memory: MemoryDraft,
        vector: np.ndarray | None,
    ) -> Memory:
        """`save` inside the caller's transaction, with the vector of `memory.text()` the
        caller embedded (None: none, the backfill embeds it later). A conflicting write of
        another request raises `IntegrityError`: the caller's transaction is then lost, and
        `save` (a transaction of its own, retried) is the way to write it."""
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
        if memory.session_id is not None:
            await scope.check_session(session, principal, memory.session_id)
        if identity is not None:
            existing = await session.scalar(select(MemoryRow).where(MemoryRow.identity == identity))
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
            await self.delete_in(session, principal, memory_id)

    async def delete_in(self, session: AsyncSession, principal: Principal, memory_id: str) -> None:
        """`delete` inside the caller's transaction."""
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

    async def find_by_keys(
        self, session: AsyncSession, principal: Principal, keys: Sequence[str], *, limit: int
    ) -> list[Memory]:
        """`find_by_key` of several keys at once, in the caller's transaction: the
        principal's own live memories with any of the keys, most recently updated first, at
        most `limit` of them."""
        if not keys:
            return []
        rows = await session.scalars(
            select(MemoryRow)
            .where(
                MemoryRow.tenant_id == principal.tenant_id,
                MemoryRow.user_id == principal.user_id,
                MemoryRow.key.in_(list(dict.fromkeys(keys))),
                scope.unexpired(utcnow()),
            )
            .order_by(MemoryRow.updated_at.desc(), MemoryRow.id)
            .limit(limit)
        )
        return [scope.to_memory(row) for row in rows]

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
