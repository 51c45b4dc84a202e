"""Sessions and messages, scoped to the caller's tenant (and, for non-admins, to the caller).

An object of another tenant is answered exactly as a missing one. History is always read
through the (session_id, position) index, a window at a time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.chat import records
from menagerie.core.chat.models import (
    MAX_MESSAGE_CHARS,
    ROLES,
    ChatSession,
    Exchange,
    HistoryPage,
    HistoryQuery,
    Message,
)
from menagerie.core.chat.tables import ChatMessageRow, ChatSessionRow
from menagerie.core.clock import as_utc, utcnow
from menagerie.core.errors import Conflict, Invalid, NotFound, TooLarge
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.paging import check_page
from menagerie.storage.database import Database

_ADD_ATTEMPTS = 8


class ChatService:
    def __init__(self, database: Database) -> None:
        self._db = database

    # -- sessions -----------------------------------------------------------------------------

    async def create_session(
        self,
        principal: Principal,
        agent_id: str,
        *,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
    ) -> ChatSession:
        if session_id is not None:
            records.check_session_id(session_id)
        row = ChatSessionRow(
            id=session_id or new_id("sess"),
            tenant_id=principal.tenant_id,
            user_id=records.acting_for(principal, user_id).user_id,
            agent_id=records.check_text(agent_id, "agent_id", 128),
            title=records.check_text(title, "title", 500) if title is not None else None,
            meta=dict(metadata or {}),
            started_at=utcnow(),
            message_count=0,
        )
        try:
            async with self._db.session() as session:
                session.add(row)
        except IntegrityError:
            # ids are global keys: one taken anywhere (another tenant, or a user this caller
            # cannot see) is refused without saying whose it is
            raise Conflict(
                "a session with this id already exists; choose another id",
                reason="SESSION_ID_TAKEN",
                details={"session_id": session_id},
            ) from None
        return records.to_session(row)

    async def get_or_create_session(
        self,
        principal: Principal,
        session_id: str,
        agent_id: str,
        *,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
        user_id: str | None = None,
    ) -> ChatSession:
        """The caller's session with this id, created for `agent_id` when there is none."""
        records.check_session_id(session_id)
        try:
            return await self.get_session(principal, session_id)
        except NotFound:
            pass
        try:
            return await self.create_session(
                principal,
                agent_id,
                title=title,
                metadata=metadata,
                user_id=user_id,
                session_id=session_id,
            )
        except Conflict as taken:
            # a racing request of ours made it; or someone else holds the id, and keeps it
            try:
                return await self.get_session(principal, session_id)
            except NotFound:
                raise taken from None

    async def get_session(self, principal: Principal, session_id: str) -> ChatSession:
        async with self._db.session() as session:
            return records.to_session(await self._session_row(session, principal, session_id))

    async def list_sessions(
        self,
        principal: Principal,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        active: bool | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[ChatSession], int]:
        check_page(limit, offset)
        conditions: list[ColumnElement[bool]] = [ChatSessionRow.tenant_id == principal.tenant_id]
        scope = records.acting_for(principal, user_id)
        if not scope.is_admin:  # an admin naming nobody sees the tenant's sessions
            conditions.append(ChatSessionRow.user_id == scope.user_id)
        if agent_id is not None:
            conditions.append(ChatSessionRow.agent_id == agent_id)
        if active is True:
            conditions.append(ChatSessionRow.ended_at.is_(None))
        elif active is False:
            conditions.append(ChatSessionRow.ended_at.is_not(None))
        recency = func.coalesce(ChatSessionRow.last_message_at, ChatSessionRow.started_at)
        async with self._db.session() as session:
            total = await session.scalar(
                select(func.count()).select_from(ChatSessionRow).where(*conditions)
            )
            rows = await session.scalars(
                select(ChatSessionRow)
                .where(*conditions)
                .order_by(recency.desc(), ChatSessionRow.id)
                .limit(limit)
                .offset(offset)
            )
            return [records.to_session(row) for row in rows], int(total or 0)

    async def end_session(self, principal: Principal, session_id: str) -> ChatSession:
        async with self._db.session() as session:
            row = await self._session_row(session, principal, session_id)
            if row.ended_at is None:
                row.ended_at = utcnow()
            return records.to_session(row)

    async def update_session(
        self,
        principal: Principal,
        session_id: str,
        *,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> ChatSession:
        async with self._db.session() as session:
            row = await self._session_row(session, principal, session_id)
            if title is not None:
                row.title = records.check_text(title, "title", 500)
            if metadata is not None:
                row.meta = {**row.meta, **metadata}
            return records.to_session(row)

    async def delete_session(self, principal: Principal, session_id: str) -> int:
        """The session, its messages and its session-scoped memories (foreign-key cascades);
        the number of messages removed with it."""
        async with self._db.session() as session:
            row = await self._session_row(session, principal, session_id)
            messages = await session.scalar(
                select(func.count())
                .select_from(ChatMessageRow)
                .where(ChatMessageRow.session_id == row.id)
            )
            await session.execute(delete(ChatSessionRow).where(ChatSessionRow.id == row.id))
            return int(messages or 0)

    async def clear(self, principal: Principal, session_id: str) -> int:
        """Remove every message of a session and keep the session."""
        async with self._db.session() as session:
            row = await self._session_row(session, principal, session_id)
            result = await session.execute(
                delete(ChatMessageRow).where(ChatMessageRow.session_id == row.id)
            )
            row.message_count = 0
            row.last_message_at = None
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # -- messages -----------------------------------------------------------------------------

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

    # -- helpers ------------------------------------------------------------------------------

    async def _session_row(
        self, session: AsyncSession, principal: Principal, session_id: str
    ) -> ChatSessionRow:
        row = await session.scalar(
            select(ChatSessionRow).where(
                ChatSessionRow.id == session_id, ChatSessionRow.tenant_id == principal.tenant_id
            )
        )
        if row is None or not records.visible(principal, row.user_id):
            raise NotFound(
                f"chat session {session_id} not found",
                reason="SESSION_NOT_FOUND",
                details={"session_id": session_id},
            )
        return row
