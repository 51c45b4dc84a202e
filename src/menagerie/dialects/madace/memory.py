"""MADACE agent memory of a session (seed 001): read, save, prune."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from menagerie.core.clock import iso
from menagerie.core.memory.models import Memory
from menagerie.core.memory.service import draft
from menagerie.dialects.madace.deps import PlatformDep, PrincipalDep
from menagerie.dialects.madace.schemas.memory import (
    MemoryList,
    MemoryOut,
    MemoryPruned,
    MemorySaved,
    MemoryValue,
    SavedMemoryOut,
    SaveMemory,
)
from menagerie.http.openapi import errors
from menagerie.http.wire import IsoTime

router = APIRouter(prefix="/api/v3/chat", tags=["memory"])


def _created(memory: Memory) -> str:
    created = iso(memory.created_at)
    assert created is not None
    return created


def _value(memory: Memory) -> MemoryValue:
    # a memory saved as plain text (by another API) has its text as its value
    return memory.value if memory.value is not None else memory.content


def _memory(memory: Memory, agent_id: str) -> MemoryOut:
    return MemoryOut(
        id=memory.id,
        agentId=memory.agent_id or agent_id,
        sessionId=memory.session_id,
        category=memory.category,
        key=memory.key,
        value=_value(memory),
        context=memory.context,
        importance=memory.importance,
        lastAccessedAt=iso(memory.last_accessed_at),
        expiresAt=iso(memory.expires_at),
        createdAt=_created(memory),
    )


def _saved(memory: Memory, agent_id: str, session_id: str, key: str) -> SavedMemoryOut:
    return SavedMemoryOut(
        id=memory.id,
        agentId=memory.agent_id or agent_id,
        sessionId=memory.session_id or session_id,
        category=memory.category,
        key=memory.key or key,
        value=_value(memory),
        context=memory.context,
        importance=memory.importance,
        expiresAt=iso(memory.expires_at),
        createdAt=_created(memory),
    )


@router.get("/sessions/{session_id}/memory", response_model=MemoryList, responses=errors(404))
async def get_memory(
    session_id: str,
    platform: PlatformDep,
    principal: PrincipalDep,
    category: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> MemoryList:
    session = await platform.chat.get_session(principal, session_id)
    memories = await platform.memory.list(
        principal,
        agent_id=session.agent_id,
        session_scope=session.id,
        category=category,
        limit=limit,
    )
    return MemoryList(memory=[_memory(m, session.agent_id) for m in memories], total=len(memories))


@router.post(
    "/sessions/{session_id}/memory",
    status_code=201,
    response_model=MemorySaved,
    responses=errors(404),
)
async def save_memory(
    session_id: str, body: SaveMemory, platform: PlatformDep, principal: PrincipalDep
) -> MemorySaved:
    session = await platform.chat.get_session(principal, session_id)
    memory = await platform.memory.save(
        principal,
        draft(
            category=body.category,
            key=body.key,
            value=body.value,
            context=body.context,
            importance=body.importance,
            expires_at=body.expiresAt,
            agent_id=session.agent_id,
            session_id=session.id,
        ),
    )
    return MemorySaved(memory=_saved(memory, session.agent_id, session.id, body.key))


@router.delete("/sessions/{session_id}/memory", response_model=MemoryPruned, responses=errors(404))
async def prune_memory(
    session_id: str,
    platform: PlatformDep,
    principal: PrincipalDep,
    older_than: Annotated[IsoTime | None, Query(alias="olderThan")] = None,
    importance_less_than: Annotated[
        float | None, Query(alias="importanceLessThan", ge=0, le=1)
    ] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
) -> MemoryPruned:
    session = await platform.chat.get_session(principal, session_id)
    deleted = await platform.memory.prune(
        principal,
        older_than=older_than,
        importance_less_than=importance_less_than,
        category=category,
        agent_id=session.agent_id,
        session_scope=session.id,
    )
    return MemoryPruned(deletedCount=deleted)
