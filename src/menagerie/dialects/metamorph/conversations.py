"""Metamorph's vault-scoped sessions and memories (seed 003 "Session/Memory Endpoints")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, get_args

from fastapi import APIRouter, Query

from menagerie.core.chat.models import ChatSession
from menagerie.core.clock import iso, utcnow
from menagerie.core.memory.models import Memory
from menagerie.core.memory.service import draft
from menagerie.dialects.metamorph.deps import CurrentVault, PlatformDep
from menagerie.dialects.metamorph.schemas import (
    Deleted,
    MemoryBody,
    MemoryList,
    MemoryType,
    NewMemory,
    NewSession,
    SessionCreated,
    SessionDetail,
    SessionList,
    SessionSummary,
)
from menagerie.http.openapi import errors

router = APIRouter(prefix="/api", tags=["sessions", "memories"])
MEMORY_TYPES = list(get_args(MemoryType))


def _iso(moment: datetime) -> str:
    text = iso(moment)
    assert text is not None
    return text


def _summary(session: ChatSession) -> SessionSummary:
    return SessionSummary(
        id=session.id,
        name=session.title,
        createdAt=_iso(session.started_at),
        lastAccessed=_iso(session.last_message_at or session.started_at),
    )


def _memory(memory: Memory) -> MemoryBody:
    return MemoryBody(
        id=memory.id,
        type=memory.category,
        content=memory.content,
        importance=memory.importance,
        createdAt=_iso(memory.created_at),
    )


@router.get("/sessions", response_model=SessionList)
async def list_sessions(vault: CurrentVault, platform: PlatformDep) -> SessionList:
    sessions, _ = await platform.chat.list_sessions(vault.principal, limit=200)
    return SessionList(sessions=[_summary(s) for s in sessions], vaultId=vault.vault_id)


@router.post("/sessions", status_code=201, response_model=SessionCreated, responses=errors(404))
async def create_session(
    body: NewSession, vault: CurrentVault, platform: PlatformDep
) -> SessionCreated:
    agent = platform.agents.catalog.get(body.agentId)  # 404 for an unknown agentId
    session = await platform.chat.create_session(vault.principal, agent.name, title=body.name)
    return SessionCreated(id=session.id, name=session.title, createdAt=_iso(session.started_at))


@router.get("/sessions/{session_id}", response_model=SessionDetail, responses=errors(404))
async def get_session(session_id: str, vault: CurrentVault, platform: PlatformDep) -> SessionDetail:
    session = await platform.chat.get_session(vault.principal, session_id)
    return SessionDetail(**_summary(session).model_dump(), messageCount=session.message_count)


@router.delete("/sessions/{session_id}", response_model=Deleted, responses=errors(404))
async def delete_session(session_id: str, vault: CurrentVault, platform: PlatformDep) -> Deleted:
    await platform.chat.delete_session(vault.principal, session_id)
    return Deleted(deletedAt=_iso(utcnow()))


@router.get("/memories", response_model=MemoryList)
async def list_memories(
    vault: CurrentVault,
    platform: PlatformDep,
    type: Annotated[MemoryType | None, Query()] = None,
    min_importance: Annotated[float | None, Query(alias="minImportance", ge=0, le=1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 10,
) -> MemoryList:
    kinds = [type] if type else MEMORY_TYPES
    memories = await platform.memory.list(
        vault.principal, categories=kinds, min_importance=min_importance, limit=limit
    )
    total = await platform.memory.count(vault.principal, categories=kinds)
    return MemoryList(memories=[_memory(m) for m in memories], total=total, vaultId=vault.vault_id)


@router.post("/memories", status_code=201, response_model=MemoryBody)
async def create_memory(body: NewMemory, vault: CurrentVault, platform: PlatformDep) -> MemoryBody:
    memory = await platform.memory.save(
        vault.principal,
        draft(
            category=body.type,
            content=body.content,
            importance=body.importance,
            metadata=body.metadata,
        ),
    )
    return _memory(memory)


@router.delete("/memories/{memory_id}", response_model=Deleted, responses=errors(404))
async def delete_memory(memory_id: str, vault: CurrentVault, platform: PlatformDep) -> Deleted:
    await platform.memory.delete(vault.principal, memory_id)
    return Deleted(deletedAt=_iso(utcnow()))
