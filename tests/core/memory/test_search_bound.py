"""What bounds keyword search on each engine (issue 16): PostgreSQL ranks only the most
recently updated matches, SQLite every one; and the storage options that keep PostgreSQL's
search from slowing down as it is used."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, text

from menagerie.core.clock import utcnow
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.memory import search
from menagerie.core.memory.service import MemoryService
from menagerie.core.memory.tables import MemoryRow
from menagerie.platform import Platform
from tests.utils.principals import admin


async def _memories(platform: Platform, me: Principal) -> tuple[str, list[str]]:
    """One older memory that matches "python" best, and three newer, weaker matches."""
    now = utcnow()

    def row(content: str, age: timedelta) -> dict[str, object]:
        return {
            "id": new_id("mem"),
            "tenant_id": me.tenant_id,
            "user_id": me.user_id,
            "category": "context",
            "content": content,
            "value": content,
            "importance": 0.5,
            "tags": [],
            "meta": {},
            "created_at": now - age,
            "updated_at": now - age,
            "access_count": 0,
        }

    best = row("python python python", timedelta(hours=2))
    newer = [
        row(f"a long note {n} about the garden, the kitchen, the bicycle and python", timedelta())
        for n in range(3)
    ]
    # and memories without the word, so that SQLite's bm25 finds it rare enough to count
    others = [row(f"the garden in spring {n}", timedelta(days=1)) for n in range(8)]
    async with platform.database.session() as session:
        await session.execute(insert(MemoryRow), [best, *newer, *others])
    return str(best["id"]), [str(r["id"]) for r in newer]


async def test_postgresql_ranks_the_most_recent_matches_only(
    started: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory, me = MemoryService(started.database), admin(started)
    best, newer = await _memories(started, me)

    # within the bound: the best match first on both engines
    monkeypatch.setattr(search, "RANKED_MATCHES", 4)
    found = [hit.memory.id for hit in await memory.search(me, "python", mode="keyword")]
    assert found[0] == best
    assert set(found) == {best, *newer}

    # more matches than the bound: PostgreSQL ranks the three newest and misses the older
    # one, however well its words match; SQLite ranks every match
    monkeypatch.setattr(search, "RANKED_MATCHES", 3)
    found = [hit.memory.id for hit in await memory.search(me, "python", mode="keyword")]
    if started.database.is_sqlite:
        assert found[0] == best
        assert set(found) == {best, *newer}
    else:
        assert set(found) == set(newer)


async def test_the_bound_applies_after_the_filters(
    started: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # newer matches of another category never take the bound's places
    memory, me = MemoryService(started.database), admin(started)
    best, _ = await _memories(started, me)
    async with started.database.session() as session:
        await session.execute(
            text("UPDATE memories SET category = 'wanted' WHERE id = :id"), {"id": best}
        )
    monkeypatch.setattr(search, "RANKED_MATCHES", 1)
    found = await memory.search(me, "python", category="wanted", mode="keyword")
    assert [hit.memory.id for hit in found] == [best]


async def test_postgresql_keeps_room_for_access_counts(started: Platform) -> None:
    """0023: a search's access count is a heap-only update (free space in each page), and
    the full-text index has no pending list for every search to read."""
    if started.database.is_sqlite:
        pytest.skip("PostgreSQL storage options")
    async with started.database.session() as session:
        table = await session.scalar(
            text("SELECT reloptions FROM pg_class WHERE relname = 'memories'")
        )
        index = await session.scalar(
            text("SELECT reloptions FROM pg_class WHERE relname = 'ix_memories_search_vector'")
        )
    assert "fillfactor=90" in (table or [])
    assert "fastupdate=off" in (index or [])


async def test_a_search_counts_its_access_on_both_engines(started: Platform) -> None:
    # the count is committed without waiting for the disk on PostgreSQL; it is still counted
    memory, me = MemoryService(started.database), admin(started)
    best, _ = await _memories(started, me)
    for _ in range(2):
        await memory.search(me, "python python", mode="keyword")
    seen = await memory.get(me, best)
    assert seen.access_count == 2
    assert seen.last_accessed_at is not None
