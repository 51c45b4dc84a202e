"""The chat store's edges: history by time and by message id, query checks, pages, clear,
delete, and reading the newest messages of a long session through its index."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select, text, update

from menagerie.core.chat.models import HistoryQuery, Message
from menagerie.core.chat.tables import ChatMessageRow, ChatSessionRow
from menagerie.core.clock import utcnow
from menagerie.core.errors import Invalid, NotFound
from menagerie.platform import Platform
from tests.utils.principals import admin


def contents(messages: list[Message]) -> list[str]:
    return [m.content for m in messages]


async def test_history_before_and_after_a_time(started: Platform) -> None:
    chat, me = started.chat, admin(started)
    session = await chat.create_session(me, "a")
    early = [await chat.add_message(me, session.id, "user", f"m{i}") for i in range(2)]
    # clients see times to the millisecond: leave clear gaps so each bound falls between
    await asyncio.sleep(0.02)
    mark = utcnow()
    await asyncio.sleep(0.02)
    late = [await chat.add_message(me, session.id, "user", f"m{i}") for i in range(2, 4)]

    def query(**kwargs: Any) -> HistoryQuery:
        return HistoryQuery(**kwargs)

    assert contents((await chat.history(me, session.id, query(before=mark))).messages) == [
        "m0",
        "m1",
    ]
    assert contents((await chat.history(me, session.id, query(after=mark))).messages) == [
        "m2",
        "m3",
    ]
    # a message's own time as the bound leaves that message out, both ways
    after_own = await chat.history(me, session.id, query(after=early[1].created_at))
    assert contents(after_own.messages) == ["m2", "m3"]
    before_own = await chat.history(me, session.id, query(before=late[0].created_at))
    assert contents(before_own.messages) == ["m0", "m1"]
    since = await chat.history(me, session.id, query(start_date=mark))
    assert contents(since.messages) == ["m2", "m3"]
    until = await chat.history(me, session.id, query(end_date=mark))
    assert contents(until.messages) == ["m0", "m1"]
    window = await chat.history(
        me, session.id, query(start_date=early[0].created_at, end_date=mark)
    )
    assert window.total == 2
    with pytest.raises(Invalid) as inverted:
        await chat.history(me, session.id, query(start_date=mark, end_date=early[0].created_at))
    assert inverted.value.field == "start_date"


async def test_history_bounds_by_message_id_and_threads_stay_in_their_session(
    started: Platform,
) -> None:
    chat, me = started.chat, admin(started)
    session = await chat.create_session(me, "a")
    other = await chat.create_session(me, "a")
    messages = [await chat.add_message(me, session.id, "user", f"m{i}") for i in range(5)]
    foreign = await chat.add_message(me, other.id, "user", "elsewhere")

    between = await chat.history(
        me, session.id, HistoryQuery(after=messages[0].id, before=messages[4].id)
    )
    assert contents(between.messages) == ["m1", "m2", "m3"]
    newest_first = await chat.history(
        me, session.id, HistoryQuery(before=messages[3].id, order="desc")
    )
    assert contents(newest_first.messages) == ["m2", "m1", "m0"]
    assert (await chat.history(me, session.id, HistoryQuery(after=messages[4].id))).total == 0
    for bound in ("before", "after"):
        with pytest.raises(Invalid) as elsewhere:
            await chat.history(me, session.id, HistoryQuery(**{bound: foreign.id}))
        assert elsewhere.value.field == bound
    # a thread rooted in another session shows nothing here
    assert (await chat.history(me, session.id, HistoryQuery(thread_id=foreign.id))).total == 0
    with pytest.raises(NotFound) as reply:
        await chat.add_message(me, session.id, "agent", "re", reply_to_id=foreign.id)
    assert reply.value.details == {"reply_to_id": foreign.id}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (HistoryQuery(limit=0), "limit"),
        (HistoryQuery(limit=201), "limit"),
        (HistoryQuery(offset=-1), "offset"),
        (HistoryQuery(order="sideways"), "order"),  # type: ignore[arg-type]
        (HistoryQuery(before=42), "before"),  # type: ignore[arg-type]
        (HistoryQuery(after=""), "after"),
        (HistoryQuery(start_date="yesterday"), "start_date"),  # type: ignore[arg-type]
        (HistoryQuery(thread_id=""), "thread_id"),
        (HistoryQuery(roles=("robot",)), "roles"),
    ],
)
async def test_malformed_history_queries_name_their_field(
    started: Platform, query: HistoryQuery, field: str
) -> None:
    chat, me = started.chat, admin(started)
    session = await chat.create_session(me, "a")
    with pytest.raises(Invalid) as bad:
        await chat.history(me, session.id, query)
    assert bad.value.field == field


async def test_pages_at_their_edges(started: Platform) -> None:
    chat, me = started.chat, admin(started)
    session = await chat.create_session(me, "a")
    empty = await chat.history(me, session.id)
    assert (empty.messages, empty.total, empty.has_more) == ([], 0, False)
    for i in range(6):
        await chat.add_message(me, session.id, "user", f"m{i}")

    exact = await chat.history(me, session.id, HistoryQuery(limit=6))
    assert len(exact.messages) == 6
    assert not exact.has_more
    last = await chat.history(me, session.id, HistoryQuery(limit=4, offset=4))
    assert contents(last.messages) == ["m4", "m5"]
    assert not last.has_more
    at_end = await chat.history(me, session.id, HistoryQuery(limit=4, offset=6))
    assert (at_end.messages, at_end.total, at_end.has_more) == ([], 6, False)
    middle = await chat.history(me, session.id, HistoryQuery(limit=2, offset=1, order="desc"))
    assert contents(middle.messages) == ["m4", "m3"]
    assert middle.has_more
    assert (middle.limit, middle.offset) == (2, 1)


async def test_clear_restarts_positions_and_delete_takes_the_messages(
    started: Platform,
) -> None:
    chat, me = started.chat, admin(started)
    session = await chat.create_session(me, "a")
    for i in range(3):
        await chat.add_message(me, session.id, "user", f"m{i}")
    assert await chat.clear(me, session.id) == 3
    cleared = await chat.get_session(me, session.id)
    assert (cleared.message_count, cleared.last_message_at) == (0, None)
    assert await chat.recent(me, session.id, 10) == []
    fresh = await chat.add_message(me, session.id, "user", "again")
    assert fresh.position == 1
    assert (await chat.get_session(me, session.id)).message_count == 1

    kept = await chat.create_session(me, "a")
    await chat.add_message(me, kept.id, "user", "stays")
    await chat.delete_session(me, session.id)
    async with started.database.session() as db:
        left = await db.scalar(
            select(func.count())
            .select_from(ChatMessageRow)
            .where(ChatMessageRow.session_id == session.id)
        )
        others = await db.scalar(
            select(func.count())
            .select_from(ChatMessageRow)
            .where(ChatMessageRow.session_id == kept.id)
        )
    assert (left, others) == (0, 1)
    assert [m.content for m in await chat.list_recent_for_user(me)] == ["stays"]


async def test_sessions_list_newest_activity_first(started: Platform) -> None:
    chat, me = started.chat, admin(started)
    older = await chat.create_session(me, "a")
    newer = await chat.create_session(me, "b")
    await chat.add_message(me, older.id, "user", "wakes the older one")
    listed, total = await chat.list_sessions(me)
    assert [s.id for s in listed] == [older.id, newer.id]
    assert total == 2
    by_agent, _ = await chat.list_sessions(me, agent_id="b")
    assert [s.id for s in by_agent] == [newer.id]
    page, total = await chat.list_sessions(me, limit=1, offset=1)
    assert [s.id for s in page] == [newer.id]
    assert total == 2
    with pytest.raises(Invalid) as bad:
        await chat.list_sessions(me, limit=201)
    assert bad.value.field == "limit"
    mine = await chat.list_recent_for_user(me, agent_id="a")
    assert contents(mine) == ["wakes the older one"]
    assert await chat.list_recent_for_user(me, agent_id="b") == []


async def test_racing_get_or_create_makes_one_session(started: Platform) -> None:
    chat, me = started.chat, admin(started)
    made = await asyncio.gather(
        *(chat.get_or_create_session(me, "conv_race", "a") for _ in range(6))
    )
    assert {s.id for s in made} == {"conv_race"}
    assert (await chat.list_sessions(me))[1] == 1


async def test_recent_is_bounded_and_ordered(started: Platform) -> None:
    chat, me = started.chat, admin(started)
    session = await chat.create_session(me, "a")
    assert await chat.recent(me, session.id, 5) == []
    for i in range(3):
        await chat.add_message(me, session.id, "user", f"m{i}")
    assert contents(await chat.recent(me, session.id, 50)) == ["m0", "m1", "m2"]
    with pytest.raises(Invalid) as bad:
        await chat.recent(me, session.id, 0)
    assert bad.value.field == "limit"


async def test_recent_reads_ten_thousand_messages_through_the_index(started: Platform) -> None:
    chat, me = started.chat, admin(started)
    session = await chat.create_session(me, "a")
    start = utcnow() - timedelta(days=1)
    rows = [
        {
            "id": f"msg_bulk{i:05d}",
            "session_id": session.id,
            "tenant_id": me.tenant_id,
            "user_id": me.user_id,
            "position": i,
            "role": "user" if i % 2 else "agent",
            "content": f"m{i}",
            "input_tokens": 0,
            "output_tokens": 0,
            "cost": 0.0,
            "metadata": {},
            "created_at": start + timedelta(seconds=i),
        }
        for i in range(1, 10_001)
    ]
    async with started.database.session() as db:
        await db.execute(insert(ChatMessageRow), rows)
        await db.execute(
            update(ChatSessionRow)
            .where(ChatSessionRow.id == session.id)
            .values(message_count=10_000, last_message_at=rows[-1]["created_at"])
        )
    async with started.database.engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
        await conn.commit()

    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM chat_messages" in statement and "position DESC" in statement:
            statements.append((statement, parameters))

    event.listen(started.database.engine.sync_engine, "before_cursor_execute", capture)
    try:
        window = await chat.recent(me, session.id, 20)
    finally:
        event.remove(started.database.engine.sync_engine, "before_cursor_execute", capture)
    assert [m.position for m in window] == list(range(9_981, 10_001))

    assert len(statements) == 1
    statement, parameters = statements[0]
    explain = "EXPLAIN QUERY PLAN " if started.database.is_sqlite else "EXPLAIN "
    async with started.database.engine.connect() as conn:
        result = await conn.exec_driver_sql(explain + statement, parameters)
        plan = " | ".join(" ".join(str(cell) for cell in row) for row in result)
    # walked along (session_id, position), with no scan of the table and no sort of the session
    assert "INDEX" in plan.upper()
    assert "TEMP B-TREE" not in plan
    assert "Seq Scan" not in plan
    assert "Sort" not in plan

    following = await chat.add_message(me, session.id, "user", "next")
    assert following.position == 10_001
