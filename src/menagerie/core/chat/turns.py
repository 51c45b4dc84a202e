"""A chat turn's writes, each a few statements inside the caller's transaction.

The agent loop writes a turn in two transactions: the user's message (with the session it
opens and the history window it reads back), then the answer (with what the answer changed
elsewhere, in the same transaction). These are the chat store's part of both: the session's
counter update is also its existence and ownership check (`UPDATE ... RETURNING`), a new
session is one insert, the messages one more, and the history window one read. Nothing here
commits; the caller's `transaction()` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.chat import records
from menagerie.core.chat.messages import ChatMessages
from menagerie.core.chat.models import ChatSession, Line, Message
from menagerie.core.chat.tables import ChatMessageRow, ChatSessionRow
from menagerie.core.clock import utcnow
from menagerie.core.errors import Conflict, NotFound
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id

# the tables themselves: these statements need no ORM unit of work, and a history window
# read as plain rows costs less than as ORM objects
_SESSIONS = ChatSessionRow.__table__
_MESSAGES = ChatMessageRow.__table__


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to append; validated as `add_message` validates its arguments."""

    role: str
    content: str
    reply_to_id: str | None = None
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    latency_ms: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OpenedTurn:
    session: ChatSession
    message: Message | None  # the user's message this turn posted, if it posted one
    history: list[Line]  # the newest messages, oldest first, `message` the last of them


class ChatTurns(ChatMessages):
    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """One transaction for a turn's writes (and the reads that go with them)."""
        return self._db.session()

    async def open_turn(
        self,
        db: AsyncSession,
        principal: Principal,
        *,
        agent_id: str,
        session_id: str | None,
        create: bool,
        message: NewMessage | None,
        window: int,
        metadata: dict[str, Any] | None = None,
    ) -> OpenedTurn:
        """The turn's session (made when `session_id` is None, or unknown and `create`), the
        user's `message` appended to it, and the newest `window` messages.

        A new session is one insert and holds only the message, so it is not read back; an
        existing one is counted up and checked in one update, which takes its row lock."""
        if message is not None:
            self.check_message(message.role, message.content)
        if session_id is None:
            made = await self._open_new(db, principal, agent_id, None, message, metadata)
            assert made is not None  # a new id is never taken
            return made
        if create:
            records.check_session_id(session_id)
        if message is None:  # nothing to write: the session is read, the window after it
            try:
                row = await self._session_row(db, principal, session_id)
            except NotFound:
                if not create:
                    raise
                made = await self._open_new(db, principal, agent_id, session_id, None, metadata)
                if made is not None:
                    return made
                row = await self._session_row(db, principal, session_id, taken=True)
            history = await self._window(db, row.id, window)
            return OpenedTurn(records.to_session(row), None, history)
        now = utcnow()
        found = await self._count_up(db, principal, session_id, 1, now)
        if found is None:
            if not create:
                raise _session_not_found(session_id)
            made = await self._open_new(db, principal, agent_id, session_id, message, metadata)
            if made is not None:
                return made
            # the id is taken: by a racing request of this caller (use it), or by someone
            # this caller cannot see (refused without saying whose it is)
            found = await self._count_up(db, principal, session_id, 1, now)
            if found is None:
                raise _session_taken(session_id)
        stored = await self._insert(db, principal, found, [message], now, check_replies=True)
        history = await self._window(db, found.id, window)
        return OpenedTurn(records.to_session(found), stored[0], history)

    async def append(
        self,
        db: AsyncSession,
        principal: Principal,
        session_id: str,
        messages: Sequence[NewMessage],
    ) -> list[Message]:
        """Append `messages` in order: two statements, the counter's update and one insert.
        Their `reply_to_id`s are the caller's to vouch for (the turn's own question)."""
        for message in messages:
            self.check_message(message.role, message.content)
        now = utcnow()
        row = await self._count_up(db, principal, session_id, len(messages), now)
        if row is None:
            raise _session_not_found(session_id)
        return await self._insert(db, principal, row, messages, now, check_replies=False)

    # --- the statements ------------------------------------------------------------------

    async def _open_new(
        self,
        db: AsyncSession,
        principal: Principal,
        agent_id: str,
        session_id: str | None,
        message: NewMessage | None,
        metadata: dict[str, Any] | None,
    ) -> OpenedTurn | None:
        """A new session holding `message`; with a given id, None when the id is taken."""
        now = utcnow()
        values = {
            "id": session_id or new_id("sess"),
            "tenant_id": principal.tenant_id,
            "user_id": principal.user_id,
            "agent_id": records.check_text(agent_id, "agent_id", 128),
            "title": None,
            "meta": dict(metadata or {}),
            "started_at": now,
            "ended_at": None,
            "message_count": 1 if message is not None else 0,
            "last_message_at": now if message is not None else None,
        }
        if session_id is None:
            await db.execute(insert(_SESSIONS), _columns(values))
        else:
            # ids are global keys: one taken anywhere is no row inserted, rather than an
            # error in the transaction (which PostgreSQL would abort)
            dialect_insert = sqlite_insert if self._db.is_sqlite else postgresql_insert
            made = await db.scalar(
                dialect_insert(_SESSIONS)
                .on_conflict_do_nothing(index_elements=["id"])
                .returning(_SESSIONS.c.id),
                _columns(values),
            )
            if made is None:
                return None
        row = ChatSessionRow(**values)
        if message is None:
            return OpenedTurn(records.to_session(row), None, [])
        [stored] = await self._insert(db, principal, row, [message], now, check_replies=True)
        return OpenedTurn(records.to_session(row), stored, [_line(stored)])

    async def _count_up(
        self, db: AsyncSession, principal: Principal, session_id: str, count: int, now: datetime
    ) -> ChatSessionRow | None:
        """The session counted up by `count` messages and read back in one statement; None
        when the caller has no such session (the update then changed nothing).

        The counter takes the row lock, so positions are handed out in order; it never falls
        behind a position already written (messages written by other means)."""
        last = (
            select(func.coalesce(func.max(ChatMessageRow.position), 0))
            .where(ChatMessageRow.session_id == session_id)
            .scalar_subquery()
        )
        counter = _SESSIONS.c.message_count
        conditions = [_SESSIONS.c.id == session_id, _SESSIONS.c.tenant_id == principal.tenant_id]
        if not principal.is_admin:  # another user's session is answered as a missing one
            conditions.append(_SESSIONS.c.user_id == principal.user_id)
        result = await db.execute(
            update(_SESSIONS)
            .where(*conditions)
            .values(
                message_count=case((last > counter, last), else_=counter) + count,
                last_message_at=now,
            )
            .returning(*_SESSIONS.c)
        )
        found = result.first()
        if found is None:
            return None
        return ChatSessionRow(**{_attribute(name): value for name, value in found._mapping.items()})

    async def _insert(
        self,
        db: AsyncSession,
        principal: Principal,
        session: ChatSessionRow,
        messages: Sequence[NewMessage],
        now: datetime,
        *,
        check_replies: bool,
    ) -> list[Message]:
        """The messages at the last positions the counter handed out, in one insert; with
        `check_replies`, each message replied to must be one of the session's."""
        first = session.message_count - len(messages) + 1
        for message in messages:
            if check_replies and message.reply_to_id is not None:
                await self._check_parent(db, session.id, message.reply_to_id)
        rows = [
            {
                "id": new_id("msg"),
                "session_id": session.id,
                "tenant_id": principal.tenant_id,
                "user_id": session.user_id,
                "position": first + offset,
                "role": message.role,
                "content": message.content,
                "reply_to_id": message.reply_to_id,
                "model": message.model,
                "input_tokens": message.input_tokens,
                "output_tokens": message.output_tokens,
                "cost": message.cost,
                "latency_ms": message.latency_ms,
                "meta": dict(message.metadata),
                "created_at": now,
            }
            for offset, message in enumerate(messages)
        ]
        # parameters apart from the statement: its compiled form is cached, and several
        # rows go as one multi-row insert
        await db.execute(insert(_MESSAGES), [_columns(row) for row in rows])
        return [_message(row) for row in rows]

    async def _check_parent(self, db: AsyncSession, session_id: str, reply_to_id: str) -> None:
        parent = await db.scalar(
            select(ChatMessageRow.id).where(
                ChatMessageRow.id == reply_to_id, ChatMessageRow.session_id == session_id
            )
        )
        if parent is None:
            raise NotFound(
                "the message replied to is not in this session",
                reason="MESSAGE_NOT_FOUND",
                details={"reply_to_id": reply_to_id},
            )

    async def _window(self, db: AsyncSession, session_id: str, limit: int) -> list[Line]:
        """The newest `limit` messages, oldest first, read backwards along the (session_id,
        position) index: the cost does not grow with the session's length."""
        rows = await db.execute(
            select(_MESSAGES.c.id, _MESSAGES.c.role, _MESSAGES.c.content)
            .where(_MESSAGES.c.session_id == session_id)
            .order_by(_MESSAGES.c.position.desc())
            .limit(limit)
        )
        lines = [Line(*row) for row in rows]
        lines.reverse()
        return lines


def _attribute(column: str) -> str:
    """The mapped attribute of a column of the chat tables (`metadata` is `meta`)."""
    return "meta" if column == "metadata" else column


def _columns(values: dict[str, Any]) -> dict[str, Any]:
    return {("metadata" if name == "meta" else name): value for name, value in values.items()}


def _message(row: dict[str, Any]) -> Message:
    return Message(
        id=row["id"],
        session_id=row["session_id"],
        tenant_id=row["tenant_id"],
        user_id=row["user_id"],
        role=row["role"],
        content=row["content"],
        reply_to_id=row["reply_to_id"],
        model=row["model"],
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        cost=row["cost"],
        latency_ms=row["latency_ms"],
        metadata=dict(row["meta"] or {}),
        created_at=row["created_at"],
        position=row["position"],
    )


def _line(message: Message) -> Line:
    return Line(message.id, message.role, message.content)


def _session_not_found(session_id: str) -> NotFound:
    return NotFound(
        f"chat session {session_id} not found",
        reason="SESSION_NOT_FOUND",
        details={"session_id": session_id},
    )


def _session_taken(session_id: str) -> Conflict:
    return Conflict(
        "a session with this id already exists; choose another id",
        reason="SESSION_ID_TAKEN",
        details={"session_id": session_id},
    )
