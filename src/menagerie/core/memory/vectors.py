"""A memory's vector beside it: stored with a save, or later by the backfill; and how far the
backfill has come."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.memory import search
from menagerie.core.memory.tables import MemoryEmbeddingRow, MemoryRow
from menagerie.storage.database import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BackfillProgress:
    """Where the embedding of older memories stands: `embedded` memories have a vector of
    the embedder's model, `pending` have none (or another model's); `done` by this call."""

    embedder: str | None
    available: bool
    embedded: int
    pending: int
    done: int = 0


async def store_vector(
    session: AsyncSession,
    row: MemoryRow,
    vector: np.ndarray | None,
    *,
    model: str | None,
    new: bool = False,
    changed: bool = True,
) -> None:
    """Store `row`'s vector (of `model`), or, without one, drop a vector of other content."""
    e = MemoryEmbeddingRow
    if vector is None or model is None:
        if not new:
            # without a new vector, an old one of other content must not stay; the
            # backfill embeds the memory again when it can
            stale = delete(e) if changed else update(e).values(updated_at=row.updated_at)
            await session.execute(stale.where(e.memory_id == row.id))
        return
    blob, scale = search.quantise(vector)
    fields = {
        "tenant_id": row.tenant_id,
        "user_id": row.user_id,
        "model": model,
        "dims": int(vector.shape[0]),
        "scale": scale,
        "vector": blob,
        "updated_at": row.updated_at,
    }
    stored = None if new else await session.get(e, row.id)
    if stored is None:
        session.add(e(memory_id=row.id, **fields))
    else:
        for name, value in fields.items():
            setattr(stored, name, value)
    await session.flush()


async def store_backfilled(
    database: Database, todo: list[Any], vectors: np.ndarray, model: str
) -> int:
    """Store the backfill's vectors for the memories whose text is still the one embedded."""
    embedded = {
        memory_id: (content, vector)
        for (memory_id, content), vector in zip(todo, vectors, strict=True)
    }
    try:
        async with database.session() as session:
            # read again, locked (PostgreSQL; SQLite has one writer), inside the
            # transaction: only memories whose text is still the one embedded get its
            # vector, and no save can change one before this commits
            rows = (
                await session.scalars(
                    select(MemoryRow)
                    .where(MemoryRow.id.in_(list(embedded)))
                    .order_by(MemoryRow.id)
                    .with_for_update()
                )
            ).all()
            fresh = [row for row in rows if row.content == embedded[row.id][0]]
            if fresh:
                await session.execute(
                    delete(MemoryEmbeddingRow).where(
                        MemoryEmbeddingRow.memory_id.in_([row.id for row in fresh])
                    )
                )
            for row in fresh:
                await store_vector(session, row, embedded[row.id][1], model=model, new=True)
            return len(fresh)
    except IntegrityError:  # a save or another backfill stored one first: theirs stays
        log.debug("memory backfill: a vector was stored meanwhile; next pass")
        return 0
