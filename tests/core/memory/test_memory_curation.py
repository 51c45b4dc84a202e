"""Memories looked after by hand: categories with their counts, importance changed, on both
engines; another tenant's or user's memory is not found."""

from __future__ import annotations

from datetime import timedelta

import pytest

from menagerie.core.clock import utcnow
from menagerie.core.errors import Invalid, NotFound
from menagerie.core.identity.models import Principal
from menagerie.core.memory.curation import CategoryCount
from menagerie.core.memory.service import draft
from menagerie.platform import Platform
from tests.utils.principals import admin, other_tenant


async def test_categories_count_the_callers_live_memories(started: Platform) -> None:
    memory, me = started.memory, admin(started)
    for category in ("notes", "notes", "facts"):
        await memory.save(me, draft(category=category, content=f"a {category} memory"))
    past = utcnow() - timedelta(minutes=1)
    await memory.save(me, draft(category="gone", content="expired", expires_at=past))
    stranger = await other_tenant(started)
    await memory.save(stranger, draft(category="theirs", content="another tenant's"))
    assert await memory.categories(me) == [CategoryCount("facts", 1), CategoryCount("notes", 2)]
    assert await memory.categories(stranger) == [CategoryCount("theirs", 1)]


async def test_importance_is_changed_and_checked(started: Platform) -> None:
    memory, me = started.memory, admin(started)
    saved = await memory.save(me, draft(category="notes", content="tea", importance=0.5))
    changed = await memory.set_importance(me, saved.id, 0.9)
    assert changed.importance == 0.9
    assert changed.updated_at >= saved.updated_at
    assert (await memory.get(me, saved.id)).importance == 0.9
    assert [m.id for m in await memory.list(me, min_importance=0.8)] == [saved.id]
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(Invalid) as caught:
            await memory.set_importance(me, saved.id, bad)
        assert caught.value.field == "importance"
    assert (await memory.get(me, saved.id)).importance == 0.9


async def test_importance_of_a_memory_not_the_callers_is_not_found(started: Platform) -> None:
    memory, me = started.memory, admin(started)
    saved = await memory.save(me, draft(category="notes", content="mine"))
    stranger = await other_tenant(started)
    plain = Principal(me.tenant_id, "usr_someone_else")  # same tenant, not an admin
    for caller in (stranger, plain):
        with pytest.raises(NotFound):
            await memory.set_importance(caller, saved.id, 0.1)
    with pytest.raises(NotFound):
        await memory.set_importance(me, "mem_missing", 0.1)
    assert (await memory.get(me, saved.id)).importance == 0.5
