"""Importing a conversation: one transaction, positions after the session's own, bounded."""

from __future__ import annotations

import pytest

from menagerie.core.chat.models import HistoryQuery
from menagerie.core.errors import Invalid, NotFound, TooLarge
from menagerie.platform import Platform
from tests.utils.principals import admin, other_tenant


async def test_import_appends_in_order_after_existing_messages(started: Platform) -> None:
    chat, me = started.chat, admin(started)
    session = await chat.create_session(me, "chat-assistant-001")
    await chat.add_message(me, session.id, "user", "before")
    added = await chat.import_messages(me, session.id, [("user", "q1"), ("agent", "a1")])
    after = await chat.add_message(me, session.id, "user", "after")
    assert added == 2
    page = await chat.history(me, session.id, HistoryQuery(limit=10))
    assert [(m.position, m.content) for m in page.messages] == [
        (1, "before"),
        (2, "q1"),
        (3, "a1"),
        (4, "after"),
    ]
    assert after.position == 4
    assert (await chat.get_session(me, session.id)).message_count == 4


async def test_a_bad_message_imports_nothing(started: Platform) -> None:
    chat, me = started.chat, admin(started)
    session = await chat.create_session(me, "chat-assistant-001")
    with pytest.raises(Invalid) as refused:
        await chat.import_messages(me, session.id, [("user", "fine"), ("robot", "no")])
    assert refused.value.field == "messages.1.role"
    with pytest.raises(TooLarge):
        await chat.import_messages(me, session.id, [("user", "x")] * 10_001)
    assert (await chat.history(me, session.id)).total == 0
    stranger = await other_tenant(started)
    with pytest.raises(NotFound):
        await chat.import_messages(stranger, session.id, [("user", "hi")])
