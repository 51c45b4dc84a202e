"""The chat store on SQLite and PostgreSQL: sessions, messages, history filters, tenancy."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from menagerie.core.chat.models import HistoryQuery
from menagerie.core.chat.service import ChatService
from menagerie.core.clock import utcnow
from menagerie.core.errors import Conflict, Invalid, NotFound, TooLarge
from menagerie.core.identity.models import Principal
from menagerie.platform import Platform
from tests.utils.principals import admin, other_tenant


async def test_session_lifecycle(started: Platform) -> None:
    chat, me = started.chat, admin(started)
    session = await chat.create_session(me, "chat-assistant-001", title="Plans", metadata={"a": 1})
    assert session.id.startswith("sess_")
    assert session.active
    assert session.message_count == 0
    first = await chat.add_message(me, session.id, "user", "hello")
    reply = await chat.add_message(
        me, session.id, "agent", "hi", reply_to_id=first.id, model="m", input_tokens=3, cost=0.1
    )
    assert (first.position, reply.position) == (1, 2)
    assert reply.reply_to_id == first.id
    assert reply.model == "m"
    assert reply.cost == 0.1
    again = await chat.get_session(me, session.id)
    assert again.message_count == 2
    assert again.last_message_at == reply.created_at
    ended = await chat.end_session(me, session.id)
    assert not ended.active
    listed, total = await chat.list_sessions(me, active=False)
    assert total == 1
    assert listed[0].id == session.id
    assert (await chat.list_sessions(me, active=True))[1] == 0

    assert await chat.clear(me, session.id) == 2
    assert (await chat.get_session(me, session.id)).message_count == 0
    await chat.delete_session(me, session.id)
    with pytest.raises(NotFound) as missing:
        await chat.get_session(me, session.id)
    assert missing.value.reason == "SESSION_NOT_FOUND"


async def test_client_chosen_ids_and_get_or_create(started: Platform) -> None:
    chat, me = started.chat, admin(started)
    made = await chat.get_or_create_session(me, "conv-42", "mama-bear")
    same = await chat.get_or_create_session(me, "conv-42", "mama-bear")
    assert made.id == same.id == "conv-42"
    with pytest.raises(Invalid) as bad:
        await chat.get_or_create_session(me, "../../etc", "mama-bear")
    assert bad.value.field == "session_id"


async def test_message_limits_and_validation(started: Platform) -> None:
    chat, me = started.chat, admin(started)
    session = await chat.create_session(me, "a")
    await chat.add_message(me, session.id, "user", "x" * 10_000)
    with pytest.raises(TooLarge) as too_long:
        await chat.add_message(me, session.id, "user", "x" * 10_001)
    assert too_long.value.reason == "MESSAGE_TOO_LONG"
    with pytest.raises(Invalid) as role:
        await chat.add_message(me, session.id, "robot", "hi")
    assert role.value.reason == "INVALID_ROLE"
    with pytest.raises(Invalid) as empty:
        await chat.add_message(me, session.id, "user", "   ")
    assert empty.value.field == "content"
    with pytest.raises(NotFound) as parent:
        await chat.add_message(me, session.id, "user", "hi", reply_to_id="msg_nope")
    assert parent.value.reason == "MESSAGE_NOT_FOUND"


async def test_concurrent_messages_all_land_in_order(started: Platform) -> None:
    chat, me = started.chat, admin(started)
    session = await chat.create_session(me, "a")
    written = await asyncio.gather(
        *(chat.add_message(me, session.id, "user", f"m{i}") for i in range(12))
    )
    assert sorted(m.position for m in written) == list(range(1, 13))
    assert (await chat.get_session(me, session.id)).message_count == 12


async def test_history_filters_and_pages(started: Platform) -> None:
    chat, me = started.chat, admin(started)
    session = await chat.create_session(me, "a")
    messages = [await chat.add_message(me, session.id, "user", f"m{i}") for i in range(10)]
    root = messages[2]
    threaded = [
        await chat.add_message(me, session.id, "agent", f"re{i}", reply_to_id=root.id)
        for i in range(2)
    ]

    page = await chat.history(me, session.id)
    assert page.total == 12
    assert [m.content for m in page.messages][:3] == ["m0", "m1", "m2"]
    assert not page.has_more
    first = await chat.history(me, session.id, HistoryQuery(limit=5))
    assert len(first.messages) == 5
    assert first.has_more
    past_end = await chat.history(me, session.id, HistoryQuery(limit=5, offset=50))
    assert past_end.messages == []
    assert past_end.total == 12
    newest = await chat.history(me, session.id, HistoryQuery(limit=2, order="desc"))
    assert [m.content for m in newest.messages] == ["re1", "re0"]

    before = await chat.history(me, session.id, HistoryQuery(before=messages[3].id))
    assert [m.content for m in before.messages] == ["m0", "m1", "m2"]
    after = await chat.history(me, session.id, HistoryQuery(after=messages[8].id))
    assert [m.content for m in after.messages] == ["m9", "re0", "re1"]
    thread = await chat.history(me, session.id, HistoryQuery(thread_id=root.id))
    assert [m.id for m in thread.messages] == [root.id, *(m.id for m in threaded)]
    later = utcnow() + timedelta(hours=1)
    assert (await chat.history(me, session.id, HistoryQuery(start_date=later))).total == 0
    assert (await chat.history(me, session.id, HistoryQuery(end_date=later))).total == 12
    assert (await chat.history(me, session.id, HistoryQuery(before=later))).total == 12
    agents = await chat.history(me, session.id, HistoryQuery(roles=("agent",)))
    assert agents.total == 2

    for limit in (0, 201):
        with pytest.raises(Invalid) as bad:
            await chat.history(me, session.id, HistoryQuery(limit=limit))
        assert bad.value.field == "limit"
    assert len((await chat.history(me, session.id, HistoryQuery(limit=200))).messages) == 12
    with pytest.raises(Invalid) as unknown:
        await chat.history(me, session.id, HistoryQuery(before="msg_unknown"))
    assert unknown.value.field == "before"

    recent = await chat.recent(me, session.id, 3)
    assert [m.content for m in recent] == ["m9", "re0", "re1"]


async def test_a_second_tenant_sees_nothing(started: Platform) -> None:
    chat, me = started.chat, admin(started)
    session = await chat.create_session(me, "a")
    await chat.add_message(me, session.id, "user", "secret plans")
    acme = await other_tenant(started)

    for attempt in (
        chat.get_session(acme, session.id),
        chat.history(acme, session.id),
        chat.add_message(acme, session.id, "user", "hi"),
        chat.delete_session(acme, session.id),
        chat.clear(acme, session.id),
    ):
        with pytest.raises(NotFound):
            await attempt
    assert await chat.list_sessions(acme) == ([], 0)
    assert await chat.list_recent_for_user(acme) == []
    # the id stays the first tenant's: the second gets a clear refusal, not their session
    with pytest.raises(Conflict) as taken:
        await chat.create_session(acme, "a", session_id=session.id)
    # a conflict that says which id, never whose
    assert (taken.value.reason, taken.value.details) == (
        "SESSION_ID_TAKEN",
        {"session_id": session.id},
    )
    assert me.tenant_id not in taken.value.message
    with pytest.raises(Conflict):
        await chat.get_or_create_session(acme, session.id, "a")
    assert (await chat.get_session(me, session.id)).message_count == 1


async def test_users_see_only_their_own_sessions(started: Platform) -> None:
    chat, me = started.chat, admin(started)
    alice = Principal(me.tenant_id, "usr_alice")
    bob = Principal(me.tenant_id, "usr_bob")
    session = await chat.create_session(alice, "a")
    await chat.add_message(alice, session.id, "user", "alice here")
    with pytest.raises(NotFound):
        await chat.get_session(bob, session.id)
    assert (await chat.list_sessions(bob))[1] == 0
    # an admin sees the tenant's sessions, and may filter by user
    assert (await chat.list_sessions(me, user_id="usr_alice"))[1] == 1
    # naming another user acts for them only as an admin; anyone else stays themself
    assert (await chat.create_session(bob, "a", user_id="usr_alice")).user_id == "usr_bob"
    assert (await chat.create_session(me, "a", user_id="usr_alice")).user_id == "usr_alice"
    assert (await chat.list_sessions(bob, user_id="usr_alice"))[1] == 1  # bob's own
    with pytest.raises(Invalid):  # too long to be a user id: refused, never cut to another
        await chat.create_session(me, "a", user_id="u" * 129)
    mine = await chat.list_recent_for_user(alice)
    assert [m.content for m in mine] == ["alice here"]


async def test_recent_reads_a_window_of_a_long_session(started: Platform) -> None:
    chat: ChatService = started.chat
    me = admin(started)
    session = await chat.create_session(me, "a")
    for i in range(60):
        await chat.add_message(me, session.id, "user", f"m{i}")
    window = await chat.recent(me, session.id, 5)
    assert [m.position for m in window] == [56, 57, 58, 59, 60]
