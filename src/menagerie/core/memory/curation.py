"""Looking after stored memories by hand: the categories a caller has (with how many memories
each holds), and a memory's importance changed. The memory service opens the session and
calls these; the caller's scope is `scope.live`, as for every read."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from menagerie.core.errors import Invalid, NotFound
from menagerie.core.identity.models import Principal
from menagerie.core.memory import scope
from menagerie.core.memory.models import Memory
from menagerie.core.memory.tables import MemoryEmbeddingRow, MemoryRow


@dataclass(frozen=True, slots=True)
class CategoryCount:
    category: str
    count: int


def check_importance(importance: float) -> float:
    """0..1, as a draft's importance; anything else (NaN included) is `Invalid` naming it."""
    if (
        isinstance(importance, bool)
        or not isinstance(importance, int | float)
        or not math.isfinite(importance)
        or not 0.0 <= importance <= 1.0
    ):
        raise Invalid(
            "importance must be a number from 0 to 1",
            field="importance",
            received=importance,
            expected="0..1",
        )
    return float(importance)


async def categories(session: Any, principal: Principal, now: datetime) -> list[CategoryCount]:
    """The categories of the memories the caller sees (unexpired), by name."""
    rows = await session.execute(
        select(MemoryRow.category, func.count())
        .where(*scope.live(principal, now))
        .group_by(MemoryRow.category)
        .order_by(MemoryRow.category)
    )
    return [CategoryCount(str(name), int(count)) for name, count in rows]


async def set_importance(
    session: Any, principal: Principal, memory_id: str, importance: float, now: datetime
) -> Memory:
    """Give a memory the caller sees a new importance (which ranks it in search and decides
    what pruning by importance removes); another tenant's or user's memory is not found."""
    importance = check_importance(importance)
    row = await session.scalar(
        select(MemoryRow).where(MemoryRow.id == memory_id, *scope.live(principal, now))
    )
    if row is None:
        raise NotFound(f"memory {memory_id} not found", reason="MEMORY_NOT_FOUND")
    row.importance = importance
    row.updated_at = now
    # the vector's copy of `updated_at` keeps the recent-candidates index in step with the memory
    await session.execute(
        update(MemoryEmbeddingRow)
        .where(MemoryEmbeddingRow.memory_id == memory_id)
        .values(updated_at=now)
    )
    await session.flush()
    return scope.to_memory(row)
