"""Which memories a caller may see: their tenant's, their own unless admin, unexpired;
the upsert identity of a keyed memory; and a row read back as a `Memory`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select

from menagerie.core.chat.tables import ChatSessionRow
from menagerie.core.errors import NotFound
from menagerie.core.identity.models import Principal
from menagerie.core.memory.models import Memory, MemoryDraft
from menagerie.core.memory.tables import MemoryRow


async def check_session(session: Any, principal: Principal, session_id: str) -> None:
    owner = await session.scalar(
        select(ChatSessionRow.user_id).where(
            ChatSessionRow.id == session_id, ChatSessionRow.tenant_id == principal.tenant_id
        )
    )
    if owner is None or not (principal.is_admin or owner == principal.user_id):
        raise NotFound(f"chat session {session_id} not found", reason="SESSION_NOT_FOUND")


def identity(principal: Principal, memory: MemoryDraft) -> str | None:
    if memory.key is None:
        return None
    parts = (
        principal.tenant_id,
        principal.user_id,
        memory.agent_id or "",
        memory.session_id or "",
        memory.category,
        memory.key,
    )
    return "\x1f".join(parts)[:400]


def owned(principal: Principal) -> list[ColumnElement[bool]]:
    conditions = [MemoryRow.tenant_id == principal.tenant_id]
    if not principal.is_admin:
        conditions.append(MemoryRow.user_id == principal.user_id)
    return conditions


def unexpired(now: datetime) -> ColumnElement[bool]:
    return or_(MemoryRow.expires_at.is_(None), MemoryRow.expires_at > now)


def live(principal: Principal, now: datetime) -> list[ColumnElement[bool]]:
    return [*owned(principal), unexpired(now)]


def narrow(
    agent_id: str | None,
    session_id: str | None,
    category: str | None,
    categories: Sequence[str] | None,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if agent_id is not None:
        conditions.append(MemoryRow.agent_id == agent_id)
    if session_id is not None:
        conditions.append(MemoryRow.session_id == session_id)
    if category is not None:
        conditions.append(MemoryRow.category == category)
    if categories:
        conditions.append(MemoryRow.category.in_(list(categories)))
    return conditions


def in_scope(session_id: str) -> ColumnElement[bool]:
    return or_(MemoryRow.session_id == session_id, MemoryRow.session_id.is_(None))


def to_memory(row: MemoryRow) -> Memory:
    return Memory(
        id=row.id,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        agent_id=row.agent_id,
        session_id=row.session_id,
        category=row.category,
        key=row.key,
        content=row.content,
        value=row.value,
        importance=row.importance,
        tags=list(row.tags or []),
        metadata=dict(row.meta or {}),
        context=row.context,
        expires_at=row.expires_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_accessed_at=row.last_accessed_at,
        access_count=row.access_count,
    )
