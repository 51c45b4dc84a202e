"""Metamorph's vault-scoped sessions and memories (seed 003)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from menagerie.core.chat.models import ChatSession
from menagerie.core.clock import iso, utcnow
from menagerie.core.memory.models import Memory
from menagerie.core.memory.service import draft
from menagerie.dialects.metamorph.deps import CurrentVault, PlatformDep

router = APIRouter(prefix="/api", tags=["sessions", "memories"])
DEFAULT_AGENT = "chat-assistant-001"
MemoryType = Literal["episodic", "semantic", "identity"]


class NewSession(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field("Untitled session", min_length=1, max_length=500)
    agentId: str = Field(DEFAULT_AGENT, min_length=1, max_length=128)


class NewMemory(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: MemoryType = "semantic"
    content: str = Field(min_length=1, max_length=10_000)
    importance: float = Field(0.5, ge=0, le=1)
    metadata: dict[str, Any] = Field(default_factory=dict)


def _session(session: ChatSession, *, count: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": session.id,
        "name": session.title,
        "createdAt": iso(session.started_at),
        "lastAccessed": iso(session.last_message_at or session.started_at),
    }
    if count:
        body["messageCount"] = session.message_count
    return body


def _memory(memory: Memory) -> dict[str, Any]:
    return {
        "id": memory.id,
        "type": memory.category,
        "content": memory.content,
        "importance": memory.importance,
        "createdAt": iso(memory.created_at),
    }


@router.get("/sessions")
async def list_sessions(vault: CurrentVault, platform: PlatformDep) -> dict[str, Any]:
    sessions, _ = await platform.chat.list_sessions(vault.principal, limit=200)
    return {"sessions": [_session(s) for s in sessions], "vaultId": vault.vault_id}


@router.post("/sessions", status_code=201)
async def create_session(
    body: NewSession, vault: CurrentVault, platform: PlatformDep
) -> JSONResponse:
    agent = platform.agents.catalog.get(body.agentId)
    session = await platform.chat.create_session(vault.principal, agent.name, title=body.name)
    payload = _session(session)
    del payload["lastAccessed"]
    return JSONResponse(payload, status_code=201)


@router.get("/sessions/{session_id}")
async def get_session(session_id: str, vault: CurrentVault, platform: PlatformDep) -> Any:
    session = await platform.chat.get_session(vault.principal, session_id)
    return _session(session, count=True)


@router.delete("/sessions/{session_id}")
async def delete_session(
    session_id: str, vault: CurrentVault, platform: PlatformDep
) -> dict[str, Any]:
    await platform.chat.delete_session(vault.principal, session_id)
    return {"success": True, "deletedAt": iso(utcnow())}


@router.get("/memories")
async def list_memories(
    vault: CurrentVault,
    platform: PlatformDep,
    type: Annotated[MemoryType | None, Query()] = None,
    min_importance: Annotated[float | None, Query(alias="minImportance", ge=0, le=1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 10,
) -> dict[str, Any]:
    kinds = [type] if type else ["episodic", "semantic", "identity"]
    memories = await platform.memory.list(
        vault.principal, categories=kinds, min_importance=min_importance, limit=limit
    )
    total = await platform.memory.count(vault.principal, categories=kinds)
    return {"memories": [_memory(m) for m in memories], "total": total, "vaultId": vault.vault_id}


@router.post("/memories", status_code=201)
async def create_memory(
    body: NewMemory, vault: CurrentVault, platform: PlatformDep
) -> JSONResponse:
    memory = await platform.memory.save(
        vault.principal,
        draft(
            category=body.type,
            content=body.content,
            importance=body.importance,
            metadata=body.metadata,
        ),
    )
    return JSONResponse(_memory(memory), status_code=201)


@router.delete("/memories/{memory_id}")
async def delete_memory(
    memory_id: str, vault: CurrentVault, platform: PlatformDep
) -> dict[str, Any]:
    await platform.memory.delete(vault.principal, memory_id)
    return {"success": True, "deletedAt": iso(utcnow())}
