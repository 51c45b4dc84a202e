"""A chat turn's database work is a small constant: the statements and commits of one turn,
counted on the real engine (SQLite and PostgreSQL), are the same whether the session holds
10 messages or 1,000, and a turn commits twice: the user's message, then the answer with
what it changed (memories extracted, the access counts of those recalled). Recall between
the two only reads (its session is rolled back, never committed).

Counts, never timings. Only the turn's own statements are counted: the usage ledger's
batched flush and the embedding backfill run in tasks of their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import event, insert, update
from sqlalchemy.exc import IntegrityError

from menagerie.core.agents.events import TurnDone
from menagerie.core.agents.runtime import TurnRequest
from menagerie.core.chat.models import HistoryQuery
from menagerie.core.chat.tables import ChatMessageRow, ChatSessionRow
from menagerie.core.clock import utcnow
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.memory.service import draft
from menagerie.platform import Platform
from menagerie.settings import Settings
from menagerie.storage.database import Database
from tests.utils.fake_llm import DEFAULT_KEY, FakeLLM, reply
from tests.utils.principals import admin

AGENT = "chat-assistant-001"
# two facts the rules extract ("works with Python", "prefers short answers")
MESSAGE = "Hello there, I work with Python and I prefer short answers."
# the most statements a turn whose facts are known may take, on either engine, with the
# embedder: the user's message (the session's counter, the message, the history window), its
# memories recalled (the text leg's two matches, the vector leg's recent vectors and the
# details of the best, the winners read), then the answer (reconciliation's one read of the
# facts' keys, the counter, the message, the recalled memories' access counted). 12 on both
# engines; a new session is one fewer (inserted, its window not read)
MAX_STATEMENTS = 12
COMMITS = 2


@dataclass
class Tally:
    statements: list[str] = field(default_factory=list)
    commits: int = 0

    @property
    def count(self) -> int:
        return len(self.statements)

    def shapes(self) -> list[str]:
        """Each statement's first words and table: what it is, without its parameters."""
        return [" ".join(s.split()[:12]) for s in self.statements]


@contextmanager
def counting(database: Database) -> Iterator[Tally]:
    """Statements and commits of the current task on `database`'s engine while inside."""
    tally = Tally()
    task = asyncio.current_task()
    engine = database.engine.sync_engine

    def executed(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if asyncio.current_task() is task:
            tally.statements.append(statement)

    def committed(_conn: Any) -> None:
        if asyncio.current_task() is task:
            tally.commits += 1

    event.listen(engine, "before_cursor_execute", executed)
    event.listen(engine, "commit", committed)
    try:
        yield tally
    finally:
        event.remove(engine, "before_cursor_execute", executed)
        event.remove(engine, "commit", committed)


@pytest.fixture
async def started(settings: Settings) -> Any:
    platform = Platform.build(settings.model_copy(update={"offline_token_delay_ms": 0}))
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


async def _session_with(platform: Platform, principal: Principal, messages: int) -> str:
    """A session already holding `messages` messages, written as an import would."""
    session = await platform.chat.create_session(principal, AGENT)
    now = utcnow()
    rows = [
        {
            "id": new_id("msg"),
            "session_id": session.id,
            "tenant_id": principal.tenant_id,
            "user_id": principal.user_id,
            "position": position,
            "role": "user" if position % 2 else "agent",
            "content": f"message {position}: words of an old conversation",
            "input_tokens": 0,
            "output_tokens": 0,
            "cost": 0.0,
            "meta": {},
            "created_at": now,
        }
        for position in range(1, messages + 1)
    ]
    async with platform.database.session() as db:
        await db.execute(insert(ChatMessageRow), rows)
        await db.execute(
            update(ChatSessionRow)
            .where(ChatSessionRow.id == session.id)
            .values(message_count=messages, last_message_at=now)
        )
    return session.id


async def _turn(platform: Platform, request: TurnRequest) -> tuple[TurnDone, Tally]:
    with counting(platform.database) as tally:
        done = await platform.agents.complete(admin(platform), request)
    return done, tally


async def test_a_turn_is_a_constant_of_statements_and_two_commits(started: Platform) -> None:
    me = admin(started)
    first, _ = await _turn(started, TurnRequest(AGENT, MESSAGE))  # the facts are new here
    assert first.memories
    short = await _session_with(started, me, 10)
    long = await _session_with(started, me, 1_000)

    _, fresh = await _turn(started, TurnRequest(AGENT, MESSAGE))
    _, at_10 = await _turn(started, TurnRequest(AGENT, MESSAGE, session_id=short))
    _, at_1000 = await _turn(started, TurnRequest(AGENT, MESSAGE, session_id=long))

    assert at_10.count == at_1000.count, (at_10.shapes(), at_1000.shapes())
    assert at_10.shapes() == at_1000.shapes()
    assert at_1000.count <= MAX_STATEMENTS, at_1000.shapes()
    assert fresh.count <= at_1000.count, fresh.shapes()
    for tally in (fresh, at_10, at_1000):
        assert tally.commits == COMMITS, tally.shapes()
    # history is read in a window, never whole
    history_reads = [s for s in at_1000.statements if s.lstrip().startswith("SELECT chat_messages")]
    assert history_reads
    assert all("LIMIT" in s.upper() for s in history_reads)


async def test_new_memories_are_written_with_the_answer(started: Platform) -> None:
    await _turn(started, TurnRequest(AGENT, "Hello."))  # the router's first call reads quotas
    done, tally = await _turn(started, TurnRequest(AGENT, MESSAGE))
    assert {m.key for m in done.memories} == {"python", "short_answers"}
    assert tally.commits == COMMITS, tally.shapes()
    # the facts' similar memories are searched and saved, a bounded number of statements each
    assert tally.count <= MAX_STATEMENTS + 6 * len(done.memories), tally.shapes()


async def test_a_failed_memory_write_keeps_the_answer(
    started: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A racing write of the same memory loses the answer's transaction: the answer is then
    stored alone, once, and the memories each in a transaction of their own."""
    failures = []
    save_in = started.memory.save_in

    async def racing(*args: Any, **kwargs: Any) -> Any:
        if not failures:  # the first write, in the answer's transaction
            failures.append(1)
            raise IntegrityError("INSERT INTO memories", {}, Exception("UNIQUE: identity"))
        return await save_in(*args, **kwargs)

    monkeypatch.setattr(started.memory, "save_in", racing)
    done = await started.agents.complete(admin(started), TurnRequest(AGENT, MESSAGE))
    assert failures
    assert {m.key for m in done.memories} == {"python", "short_answers"}
    history = await started.chat.history(admin(started), done.message.session_id)
    assert [(m.role, m.id) for m in history.messages][1:] == [("agent", done.message.id)]
    assert [m.role for m in history.messages] == ["user", "agent"]
    session = await started.chat.get_session(admin(started), done.message.session_id)
    assert session.message_count == 2


async def test_turns_at_once_in_one_session_each_take_their_positions(
    started: Platform,
) -> None:
    me = admin(started)
    first = await started.agents.complete(me, TurnRequest(AGENT, "Hello."))
    session_id = first.message.session_id
    turns = [
        started.agents.complete(me, TurnRequest(AGENT, f"turn {i}", session_id=session_id))
        for i in range(5)
    ]
    await asyncio.gather(*turns)
    history = await started.chat.history(me, session_id, HistoryQuery(limit=50))
    assert [m.position for m in history.messages] == list(range(1, 13))
    assert sorted(m.content for m in history.messages if m.role == "user") == sorted(
        ["Hello.", *(f"turn {i}" for i in range(5))]
    )
    session = await started.chat.get_session(me, session_id)
    assert session.message_count == 12


async def test_recalled_memories_are_counted_with_the_answer(started: Platform) -> None:
    me = admin(started)
    await _turn(started, TurnRequest(AGENT, "Hello."))  # the router's first call reads quotas
    saved = await started.memory.save(
        me, draft(category="context", key="stack", content="The user works with Rust")
    )
    _, tally = await _turn(started, TurnRequest(AGENT, "What do I work with? Rust?"))
    assert tally.commits == COMMITS
    seen = await started.memory.get(me, saved.id)
    assert seen.access_count == 1
    assert seen.last_accessed_at is not None


FACT = {"category": "personal_info", "key": "name", "value": "Lin"}
UPDATE = {"id": "m1", "fact": "f1", "event": "UPDATE", "text": "Lin"}


async def test_a_real_model_s_turn_commits_twice_too(settings: Settings) -> None:
    """A capable model mines and reconciles the facts (two calls after the answer): their
    reads run outside any transaction, the writes with the answer."""
    async with FakeLLM(api_key=DEFAULT_KEY) as fake:
        platform = Platform.build(
            settings.model_copy(
                update={
                    "openai_api_key": SecretStr(DEFAULT_KEY),
                    "openai_base_url": fake.openai_base_url,
                    "llm_primary_model": "gpt-4o-mini",
                    "llm_retries": 0,
                }
            )
        )
        await platform.start()
        try:
            me = admin(platform)
            await platform.memory.save(
                me, draft(category="personal_info", key="name", content="The user's name is Li")
            )
            fake.push(reply("Hello."), reply('{"memories": []}'))
            await _turn(platform, TurnRequest(AGENT, "Hi."))  # the router's first call
            fake.push(
                reply("Nice to meet you, Lin."),
                reply(
                    '{"memories": [{"category": "personal_info", "key": "name", "value": "Lin"}]}'
                ),
                reply('{"memory": [{"id": "m1", "fact": "f1", "event": "UPDATE", "text": "Lin"}]}'),
            )
            done, tally = await _turn(platform, TurnRequest(AGENT, "Lin here, not Li."))
            assert [m.content for m in done.memories] == ["Lin"]
            assert tally.commits == COMMITS, tally.shapes()
        finally:
            await platform.stop()
