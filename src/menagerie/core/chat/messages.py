"""Chat messages: appended in order to a session, read back through the (session_id,
position) index a window at a time, never the whole history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from menagerie.core.chat import records
from menagerie.core.chat.models import (
    MAX_MESSAGE_CHARS,
    ROLES,
    Exchange,
    HistoryPage,
    HistoryQuery,
    Message,
)
from menagerie.core.chat.sessions import ChatSessions
from menagerie.core.chat.tables import ChatMessageRow, ChatSessionRow
from menagerie.core.clock import as_utc, utcnow
from menagerie.core.errors import Invalid, NotFound, TooLarge
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.paging import check_page

_ADD_ATTEMPTS = 8
MAX_IMPORT = 10_000  # messages in one import: one transaction, bounded


class ChatMessages(ChatSessions):
    async def add_message(
        self,
        principal: Principal,
        session_id: str,
        role: str,
        content: str,
        *,
        reply_to_id: str | None = None,
        model: str | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cost: float = 0.0,
        latency_ms: float | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Message:
        self.check_message(role, content)
        for attempt in range(_ADD_ATTEMPTS):
            try:
                return await self._insert_message(
                    principal,
                    session_id,
                    role,
                    content,
                    reply_to_id=reply_to_id,
                    model=model,
                    input_tokens=input_tokens,
                    output_tokens=output_tokens,
                    cost=cost,
                    latency_ms=latency_ms,
                    metadata=metadata or {},
                )
            except IntegrityError:
                # two writers took the same position; the session counter moved, try again
                if attempt == _ADD_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def check_message(role: str, content: str) -> None:
        """A message the store takes, or `Invalid` / `TooLarge` saying why not."""
        if role not in ROLES:
            raise Invalid(
                f"role must be one of {', '.join(ROLES)}",
                field="role",
                received=role,
                reason="INVALID_ROLE",
            )
        if not isinstance(content, str) or not content.strip():
            raise Invalid("content must not be empty", field="content", received=content)
        if len(content) > MAX_MESSAGE_CHARS:
            raise TooLarge(
                f"message exceeds {MAX_MESSAGE_CHARS:,} characters ({len(content):,})",
                reason="MESSAGE_TOO_LONG",
                details={"limit": MAX_MESSAGE_CHARS, "length": len(content)},
            )

    async def import_messages(
        self, principal: Principal, session_id: str, messages: Sequence[tuple[str, str]]
    ) -> int:
        """Append a conversation kept elsewhere (`(role, content)` pairs, oldest first) in one
        transaction: all of it or none. Returns the number of messages added."""
        if len(messages) > MAX_IMPORT:
            raise TooLarge(
                f"an import holds at most {MAX_IMPORT:,} messages ({len(messages):,} sent)",
                reason="IMPORT_TOO_LARGE",
                details={"limit": MAX_IMPORT, "count": len(messages)},
            )
        for index, (role, content) in enumerate(messages):
            if role not in ROLES:
                raise Invalid(
                    f"message {index}: role must be one of {', '.join(ROLES)}",
                    field=f"messages.{index}.role",
                    received=role,
                    reason="INVALID_ROLE",
                )
            if not isinstance(content, str) or not content.strip():
                raise Invalid(f"message {index} is empty", field=f"messages.{index}.content")
            if len(content) > MAX_MESSAGE_CHARS:
                raise TooLarge(
                    f"message {index} exceeds {MAX_MESSAGE_CHARS:,} characters",
                    reason="MESSAGE_TOO_LONG",
                    details={"limit": MAX_MESSAGE_CHARS, "index": index},
                )
        if not messages:
            return 0
        now = utcnow()
        async with self._db.session() as session:
            row = await self._session_row(session, principal, session_id)
            # the counter update takes the session's row lock, as one message's append does
            count = await session.scalar(
                update(ChatSessionRow)
                .where(ChatSessionRow.id == row.id)
                .values(
                    message_count=ChatSessionRow.message_count + len(messages),
                    last_message_at=now,
                )
                .returning(ChatSessionRow.message_count)
            )
            last = await session.scalar(
                select(func.max(ChatMessageRow.position)).where(ChatMessageRow.session_id == row.id)
            )
            first = max(int(count or 0) - len(messages), int(last or 0)) + 1
            await session.execute(
                insert(ChatMessageRow),
                [
                    {
                        "id": new_id("msg"),
                        "session_id": row.id,
                        "tenant_id": principal.tenant_id,
                        "user_id": row.user_id,
                        "position": first + offset,
                        "role": role,
                        "content": content,
                        "input_tokens": 0,
                        "output_tokens": 0,
                        "cost": 0.0,
                        "meta": {},
                        "created_at": now,
                    }
                    for offset, (role, content) in enumerate(messages)
                ],
            )
        return len(messages)

    async def _insert_message(
        self,
        principal: Principal,
        session_id: str,
        role: str,
        content: str,
        *,
        reply_to_id: str | None,
        metadata: dict[str, Any],
        **numbers: Any,
    ) -> Message:
        now = utcnow()
        async with self._db.session() as session:
            row = await self._session_row(session, principal, session_id)
            if reply_to_id is not None:
                parent = await session.scalar(
                    select(ChatMessageRow.id).where(
                        ChatMessageRow.id == reply_to_id, ChatMessageRow.session_id == row.id
                    )
                )
                if parent is None:
                    # a reference to a message that does not exist (here): not found, like
                    # any object the caller cannot see
                    raise NotFound(
                        "the message replied to is not in this session",
                        reason="MESSAGE_NOT_FOUND",
                        details={"reply_to_id": reply_to_id},
                    )
            # the counter update takes the row lock, so positions are handed out in order
            position = await session.scalar(
                update(ChatSessionRow)
                .where(ChatSessionRow.id == row.id)
                .values(
                    message_count=ChatSessionRow.message_count + 1,
                    last_message_at=now,
                )
                .returning(ChatSessionRow.message_count)
            )
            last = await session.scalar(
                select(func.max(ChatMessageRow.position)).where(ChatMessageRow.session_id == row.id)
            )
            message = ChatMessageRow(
                id=new_id("msg"),
                session_id=row.id,
                tenant_id=principal.tenant_id,
                user_id=row.user_id,
                position=max(int(position or 0), int(last or 0) + 1),
                role=role,
                content=content,
                reply_to_id=reply_to_id,
                meta=metadata,
                created_at=now,
                **numbers,
            )
            session.add(message)
            await session.flush()
            return records.to_message(message)

    async def get_message(self, principal: Principal, message_id: str) -> Message:
        async with self._db.session() as session:
            row = await session.scalar(
                select(ChatMessageRow).where(
                    ChatMessageRow.id == message_id,
                    ChatMessageRow.tenant_id == principal.tenant_id,
                )
            )
            if row is None or not records.visible(principal, row.user_id):
                raise NotFound(f"message {message_id} not found", reason="MESSAGE_NOT_FOUND")
            return records.to_message(row)

    async def history(
        self, principal: Principal, session_id: str, query: HistoryQuery | None = None
    ) -> HistoryPage:
        query = query or HistoryQuery()
        records.check_query(query)
        async with self._db.session() as session:
            row = await self._session_row(session, principal, session_id)
            conditions = [ChatMessageRow.session_id == row.id]
            conditions += await records.filters(session, row.id, query)
            total = await session.scalar(
                select(func.count()).select_from(ChatMessageRow).where(*conditions)
            )
            order = ChatMessageRow.position.asc()
            if query.order == "desc":
                order = ChatMessageRow.position.desc()
            rows = await session.scalars(
                select(ChatMessageRow)
                .where(*conditions)
                .order_by(order)
                .limit(query.limit)
                .offset(query.offset)
            )
            return HistoryPage(
                [records.to_message(m) for m in rows], int(total or 0), query.limit, query.offset
            )

    async def recent(self, principal: Principal, session_id: str, limit: int) -> list[Message]:
        """The newest `limit` messages in the order they were written.

        Reads backwards along the (session_id, position) index and stops after `limit` rows,
        so the cost does not grow with the session's length.
        """
        if not isinstance(limit, int) or limit < 1:
            raise Invalid("limit must be at least 1", field="limit", received=limit)
        async with self._db.session() as session:
            row = await self._session_row(session, principal, session_id)
            rows = await session.scalars(
                select(ChatMessageRow)
                .where(ChatMessageRow.session_id == row.id)
                .order_by(ChatMessageRow.position.desc())
                .limit(limit)
            )
            messages = [records.to_message(m) for m in rows]
        messages.reverse()
        return messages

    async def list_recent_for_user(
        self,
        principal: Principal,
        *,
        agent_id: str | None = None,
        user_id: str | None = None,
        limit: int = 50,
    ) -> list[Message]:
        """The user's newest messages across their sessions, newest first."""
        check_page(limit, 0)
        owner = records.acting_for(principal, user_id).user_id
        statement: Select[tuple[ChatMessageRow]] = select(ChatMessageRow).where(
            ChatMessageRow.tenant_id == principal.tenant_id, ChatMessageRow.user_id == owner
        )
        if agent_id is not None:
            statement = statement.join(
                ChatSessionRow, ChatSessionRow.id == ChatMessageRow.session_id
            ).where(ChatSessionRow.agent_id == agent_id)
        statement = statement.order_by(
            ChatMessageRow.created_at.desc(), ChatMessageRow.position.desc()
        ).limit(limit)
        async with self._db.session() as session:
            return [records.to_message(m) for m in await session.scalars(statement)]

    async def exchanges(
        self,
        principal: Principal,
        *,
        session_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> tuple[list[Exchange], int]:
        """The caller's answered questions, newest first: each agent answer with the message
        it replied to (APIs that list history as question/answer pairs)."""
        check_page(limit, offset)
        conditions = [
            ChatMessageRow.tenant_id == principal.tenant_id,
            ChatMessageRow.user_id == principal.user_id,
            ChatMessageRow.role == "agent",
        ]
        if session_id is not None:
            conditions.append(ChatMessageRow.session_id == session_id)
        if start_date is not None:
            conditions.append(ChatMessageRow.created_at >= as_utc(start_date))
        if end_date is not None:
            conditions.append(ChatMessageRow.created_at <= as_utc(end_date))
        async with self._db.session() as session:
            if session_id is not None:
                await self._session_row(session, principal, session_id)
            total = await session.scalar(
                select(func.count()).select_from(ChatMessageRow).where(*conditions)
            )
            answers = list(
                await session.scalars(
                    select(ChatMessageRow)
                    .where(*conditions)
                    .order_by(ChatMessageRow.created_at.desc(), ChatMessageRow.position.desc())
                    .limit(limit)
                    .offset(offset)
                )
            )
            asked = {a.reply_to_id for a in answers if a.reply_to_id}
            questions = {
                row.id: row
                for row in await session.scalars(
                    select(ChatMessageRow).where(ChatMessageRow.id.in_(asked))
                )
            }
            pairs = [
                Exchange(
                    records.to_message(questions[a.reply_to_id])
                    if a.reply_to_id in questions
                    else None,
                    records.to_message(a),
                )
                for a in answers
            ]
            return pairs, int(total or 0)
