"""The memory store on SQLite and PostgreSQL: upserts, search, expiry, pruning, quota, tenancy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import insert, text

from menagerie.core.clock import utcnow
from menagerie.core.errors import Invalid, NotFound, QuotaExceeded
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.memory.models import MAX_CONTENT_CHARS, MemoryDraft
from menagerie.core.memory.search import CANDIDATES
from menagerie.core.memory.service import MemoryService, draft
from menagerie.core.memory.tables import MemoryRow
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.principals import admin


@pytest.fixture
async def started(settings: Settings) -> AsyncIterator[Platform]:
    platform = Platform.build(settings.model_copy(update={"memory_quota_per_tenant": 12}))
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


async def test_save_upserts_by_category_and_key(started: Platform) -> None:
    memory, me = started.memory, admin(started)
    first = await memory.save(
        me, draft(category="user_preferences", key="language", value="English", importance=0.4)
    )
    assert first.content == "language: English"
    assert first.value == "English"
    second = await memory.save(
        me, draft(category="user_preferences", key="language", value={"primary": "French"})
    )
    assert second.id == first.id
    assert second.value == {"primary": "French"}
    assert len(await memory.list(me)) == 1
    other_key = await memory.save(me, draft(category="user_preferences", key="editor", value=1))
    assert other_key.id != first.id
    unkeyed = [await memory.save(me, draft(category="notes", content="x")) for _ in range(2)]
    assert unkeyed[0].id != unkeyed[1].id


async def test_validation_names_the_field(started: Platform) -> None:
    with pytest.raises(Invalid) as importance:
        draft(category="c", content="x", importance=1.5)
    assert importance.value.field == "importance"
    with pytest.raises(Invalid) as category:
        draft(category="", content="x")
    assert category.value.field == "category"
    with pytest.raises(Invalid):
        draft(category="c")
    with pytest.raises(Invalid) as content:
        MemoryDraft(category="c", content="x" * (MAX_CONTENT_CHARS + 1))
    assert content.value.field == "content"
    with pytest.raises(Invalid) as long_category:
        MemoryDraft(category="c" * 65, content="x")
    assert long_category.value.field == "category"


async def test_search_ranks_relevant_important_recent(started: Platform) -> None:
    memory, me = started.memory, admin(started)
    await memory.save(
        me, draft(category="context", content="The user works with Python and FastAPI")
    )
    await memory.save(me, draft(category="context", content="The user has a cat named Miso"))
    low = await memory.save(
        me, draft(category="user_preferences", content="Prefers Python tabs", importance=0.1)
    )
    high = await memory.save(
        me, draft(category="user_preferences", content="Prefers Python spaces", importance=0.95)
    )
    # keyword: only what shares a word; hybrid (the default) also ranks by meaning
    hits = await memory.search(me, "what python frameworks?", mode="keyword")
    contents = [hit.memory.content for hit in hits]
    assert "The user has a cat named Miso" not in contents
    assert contents.index(high.content) < contents.index(low.content)
    assert all(0 <= hit.relevance_score <= 1 for hit in hits)
    # the words are stemmed: "working" finds "works"
    stemmed = await memory.search(me, "working", mode="keyword")
    assert stemmed[0].memory.content.startswith("The user works")
    seen = await memory.get(me, hits[0].memory.id)
    assert seen.access_count == 1
    assert seen.last_accessed_at is not None
    by_importance = await memory.search(me, "")
    assert by_importance[0].memory.id == high.id
    hybrid = [hit.memory.content for hit in await memory.search(me, "what python frameworks?")]
    assert hybrid.index(high.content) < hybrid.index(low.content)
    assert "The user has a cat named Miso" not in hybrid  # far less similar than the rest


@pytest.mark.parametrize(
    "query",
    ['"', "python*", "-python", "content:python", "(python", "NEAR(a b)", "a AND OR NOT", "'; --"],
)
async def test_hostile_queries_never_fail(started: Platform, query: str) -> None:
    memory, me = started.memory, admin(started)
    await memory.save(me, draft(category="context", content="python everywhere"))
    hits = await memory.search(me, query)
    assert isinstance(hits, list)


async def test_expired_memories_are_never_returned_and_pruned(started: Platform) -> None:
    memory, me = started.memory, admin(started)
    gone = await memory.save(
        me,
        draft(
            category="context",
            content="temporary python note",
            expires_at=utcnow() - timedelta(seconds=1),
        ),
    )
    kept = await memory.save(me, draft(category="context", content="lasting python note"))
    assert [m.id for m in await memory.list(me)] == [kept.id]
    assert [h.memory.id for h in await memory.search(me, "python")] == [kept.id]
    with pytest.raises(NotFound):
        await memory.get(me, gone.id)
    assert await memory.prune(me) == 1
    assert await memory.prune(me) == 0
    assert [m.id for m in await memory.list(me)] == [kept.id]


async def test_prune_filters(started: Platform) -> None:
    memory, me = started.memory, admin(started)
    await memory.save(me, draft(category="a", content="low", importance=0.1))
    await memory.save(me, draft(category="a", content="high", importance=0.9))
    await memory.save(me, draft(category="b", content="other", importance=0.9))
    assert await memory.prune(me, importance_less_than=0.5) == 1
    assert await memory.prune(me, category="b") == 1
    assert await memory.prune(me, older_than=utcnow() - timedelta(days=1)) == 0
    assert await memory.prune(me, older_than=utcnow() + timedelta(seconds=1)) == 1
    assert await memory.count(me) == 0


async def test_list_filters(started: Platform) -> None:
    memory, me = started.memory, admin(started)
    await memory.save(me, draft(category="episodic", content="one", importance=0.2, agent_id="x"))
    await memory.save(me, draft(category="semantic", content="two", importance=0.8))
    assert [m.content for m in await memory.list(me, category="episodic")] == ["one"]
    assert [m.content for m in await memory.list(me, min_importance=0.5)] == ["two"]
    assert [m.content for m in await memory.list(me, agent_id="x")] == ["one"]
    assert len(await memory.list(me, limit=1)) == 1
    with pytest.raises(Invalid):
        await memory.list(me, limit=500)


async def test_quota(started: Platform) -> None:
    memory, me = started.memory, admin(started)
    for i in range(12):
        await memory.save(me, draft(category="c", content=f"m{i}"))
    with pytest.raises(QuotaExceeded) as full:
        await memory.save(me, draft(category="c", content="one too many"))
    assert full.value.reason == "MEMORY_QUOTA_EXCEEDED"


async def test_session_memories_go_with_their_session(started: Platform) -> None:
    memory, chat, me = started.memory, started.chat, admin(started)
    session = await chat.create_session(me, "a")
    scoped = await memory.save(me, draft(category="c", content="in session", session_id=session.id))
    lasting = await memory.save(me, draft(category="c", content="about the user"))
    await chat.delete_session(me, session.id)
    with pytest.raises(NotFound):
        await memory.get(me, scoped.id)
    assert (await memory.get(me, lasting.id)).id == lasting.id
    assert await memory.search(me, "session", mode="keyword") == []
    assert [hit.memory.id for hit in await memory.search(me, "session")] == [lasting.id]
    with pytest.raises(NotFound) as unknown:
        await memory.save(me, draft(category="c", content="x", session_id="sess_nope"))
    assert unknown.value.reason == "SESSION_NOT_FOUND"


async def test_a_second_tenant_sees_nothing(started: Platform) -> None:
    memory, me = started.memory, admin(started)
    ours = await memory.save(me, draft(category="c", content="our python secret", key="k"))
    issued = await started.api_tokens.issue_for_tenant("acme", "acme admin")
    acme = await started.identity.authenticate_bearer(issued.token)
    with pytest.raises(NotFound):
        await memory.get(acme, ours.id)
    with pytest.raises(NotFound):
        await memory.delete(acme, ours.id)
    assert await memory.list(acme) == []
    assert await memory.search(acme, "python secret") == []
    assert await memory.prune(acme, category="c") == 0
    theirs = await memory.save(acme, draft(category="c", content="their note", key="k"))
    assert theirs.id != ours.id
    assert (await memory.get(me, ours.id)).content == "our python secret"


async def test_users_of_a_tenant_keep_their_own_memories(started: Platform) -> None:
    memory, me = started.memory, admin(started)
    alice = Principal(me.tenant_id, "usr_alice")
    bob = Principal(me.tenant_id, "usr_bob")
    mine = await memory.save(alice, draft(category="c", content="alice likes rust"))
    assert await memory.search(bob, "rust") == []
    with pytest.raises(NotFound):
        await memory.delete(bob, mine.id)
    assert [h.memory.id for h in await memory.search(alice, "rust")] == [mine.id]


async def _bulk(platform: Platform, me: Principal, count: int, **fields: object) -> None:
    """Rows straight into the table, as many as it takes to fill the candidate list."""
    now = utcnow()
    rows = [
        {
            "id": new_id("mem"),
            "tenant_id": me.tenant_id,
            "user_id": me.user_id,
            "category": "noise",
            "content": "python python python noise",
            "value": "noise",
            "importance": 1.0,
            "tags": [],
            "meta": {},
            "created_at": now,
            "updated_at": now,
            "access_count": 0,
            **fields,
        }
        for _ in range(count)
    ]
    async with platform.database.session() as session:
        await session.execute(insert(MemoryRow), rows)


async def test_filters_apply_before_the_candidate_limit(started: Platform) -> None:
    # no quota: the table holds hundreds of memories here
    memory, me = MemoryService(started.database), admin(started)
    # better text matches than the wanted one, but of another category, agent, or expired
    await _bulk(started, me, CANDIDATES + 5)
    await _bulk(started, me, CANDIDATES + 5, category="wanted", agent_id="other")
    await _bulk(started, me, CANDIDATES + 5, category="wanted", expires_at=utcnow())
    wanted = await memory.save(
        me, draft(category="wanted", content="python once", importance=0.1, agent_id="mine")
    )
    by_category = await memory.search(me, "python", category="wanted", agent_id="mine")
    assert [hit.memory.id for hit in by_category] == [wanted.id]
    by_agent = await memory.search(me, "python", agent_id="mine")
    assert [hit.memory.id for hit in by_agent] == [wanted.id]


class _Meaning:
    """An embedder that knows that a kitten is a cat."""

    model = "meaning-test"
    dims = 2

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0] if "cat" in text or "kitten" in text else [0.0, 1.0] for text in texts]


async def test_an_embedder_ranks_matches_by_meaning(started: Platform) -> None:
    me = admin(started)
    # the platform's backfill would re-embed these memories with its own model meanwhile
    if started.memory_backfill is not None:
        await started.memory_backfill.stop()
    with_meaning = MemoryService(started.database, embedder=_Meaning())
    dog = await with_meaning.save(me, draft(category="c", content="my pet dog", importance=0.9))
    cat = await with_meaning.save(me, draft(category="c", content="my pet cat", importance=0.1))
    keyword = await with_meaning.search(me, "my pet", mode="keyword")
    assert [hit.memory.id for hit in keyword] == [dog.id, cat.id]
    # no memory holds "kitten": both match by "my pet", and meaning puts the cat first
    hits = await with_meaning.search(me, "my pet kitten")
    assert hits[0].memory.id == cat.id
    assert all(0 <= hit.relevance_score <= 1 for hit in hits)
    assert [hit.memory.id for hit in await with_meaning.search(me, "kitten", mode="vector")] == [
        cat.id
    ]


async def test_the_search_index_follows_updates_and_deletes(started: Platform) -> None:
    memory, me = started.memory, admin(started)
    kept = await memory.save(me, draft(category="notes", key="fruit", value="apricot jam"))
    gone = await memory.save(me, draft(category="notes", content="walnut bread recipe"))
    await memory.save(me, draft(category="notes", key="fruit", value="quince paste"))  # update
    await memory.delete(me, gone.id)

    assert [hit.memory.id for hit in await memory.search(me, "quince")] == [kept.id]
    assert await memory.search(me, "apricot", mode="keyword") == []
    assert await memory.search(me, "walnut", mode="keyword") == []
    # by meaning, the one memory left is all there is to find
    assert [hit.memory.id for hit in await memory.search(me, "walnut")] == [kept.id]
    if started.database.is_sqlite:
        # one index row per memory, each reached through the map (no orphan left to scan)
        async with started.database.session() as session:
            rows = (
                await session.execute(
                    text(
                        "SELECT (SELECT count(*) FROM memories_fts), "
                        "(SELECT count(*) FROM memories_fts_map), (SELECT count(*) FROM memories)"
                    )
                )
            ).one()
        assert rows == (1, 1, 1)
