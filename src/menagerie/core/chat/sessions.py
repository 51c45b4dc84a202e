"""Chat sessions, scoped to the caller's tenant (and, for non-admins, to the caller).

An object of another tenant is answered exactly as a missing one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.chat import records
from menagerie.core.chat.models import (
    ChatSession,
)
from menagerie.core.chat.tables import ChatMessageRow, ChatSessionRow
from menagerie.core.clock import utcnow
from menagerie.core.errors import Conflict, NotFound
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.paging import check_page
from menagerie.storage.database import Database


class ChatSessions:
    def __init__(self, database: Database) -> None:
        self._db = database

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
        search: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[ChatSession], int]:
        """Newest first; `search` matches words of the title, case-insensitively."""
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
        if search:
            words = records.check_text(search, "search", 200).lower()
            literal = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(func.lower(ChatSessionRow.title).like(f"%{literal}%", escape="\\"))
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

    async def _session_row(
        self, session: AsyncSession, principal: Principal, session_id: str, *, taken: bool = False
    ) -> ChatSessionRow:
        """The caller's session; NotFound, or with `taken` (the id was just found in use)
        Conflict, when the caller has none with this id."""
        row = await session.scalar(
            select(ChatSessionRow).where(
                ChatSessionRow.id == session_id, ChatSessionRow.tenant_id == principal.tenant_id
            )
        )
        if row is None or not records.visible(principal, row.user_id):
            if taken:
                raise Conflict(
                    "a session with this id already exists; choose another id",
                    reason="SESSION_ID_TAKEN",
                    details={"session_id": session_id},
                )
            raise NotFound(
                f"chat session {session_id} not found",
                reason="SESSION_NOT_FOUND",
                details={"session_id": session_id},
            )
        return row
