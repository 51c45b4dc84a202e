"""MADACE chat v3 (seed 001): sessions, messages with threads, the SSE stream, agent memory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import StreamingResponse

from menagerie.core.agents.events import (
    AgentEvent,
    MemoryUpdate,
    TextChunk,
    ToolCallStarted,
    ToolResult,
    is_retryable,
)
from menagerie.core.agents.runtime import TurnRequest
from menagerie.core.chat.models import ChatSession, HistoryQuery, Message
from menagerie.core.clock import iso
from menagerie.core.errors import Invalid, MenagerieError
from menagerie.core.identity.models import Principal
from menagerie.core.memory.models import Memory
from menagerie.core.memory.service import draft
from menagerie.http.deps import get_platform, require_principal
from menagerie.platform import Platform
from menagerie.realtime import sse

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v3/chat", tags=["chat"])
PlatformDep = Annotated[Platform, Depends(get_platform)]
PrincipalDep = Annotated[Principal, Depends(require_principal)]


class NewSession(BaseModel):
    model_config = ConfigDict(extra="ignore")

    userId: str = Field(min_length=1, max_length=128)
    agentId: str = Field(min_length=1, max_length=128)
    metadata: dict[str, Any] | None = None


class NewMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str = Field(description='"user" or "agent"')
    content: str
    replyToId: str | None = None


class StreamRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sessionId: str = Field(min_length=1, max_length=64)
    agentId: str = Field(min_length=1, max_length=128)
    replyToId: str | None = None
    # not in the seed: post the user's message and answer it in one request
    content: str | None = None


class SaveMemory(BaseModel):
    model_config = ConfigDict(extra="ignore")

    category: str
    key: str
    value: Any
    context: str | None = None
    importance: float = 0.5
    expiresAt: datetime | None = None


def _owner(principal: Principal, user_id: str | None) -> str | None:
    # the seed's userId names the user; only an admin may act for someone else
    return user_id if principal.is_admin else None


def _session(session: ChatSession, *, detail: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": session.id,
        "userId": session.user_id,
        "agentId": session.agent_id,
        "startedAt": iso(session.started_at),
        "endedAt": iso(session.ended_at),
    }
    if detail:
        body["metadata"] = session.metadata or None
    body["messageCount"] = session.message_count
    body["lastMessageAt"] = iso(session.last_message_at)
    return body


def _message(message: Message) -> dict[str, Any]:
    metadata: dict[str, Any] | None = dict(message.metadata) or None
    if message.model:
        metadata = {
            **(metadata or {}),
            "model": message.model,
            "tokens": message.input_tokens + message.output_tokens,
            "cost": message.cost,
            "latencyMs": message.latency_ms,
        }
    return {
        "id": message.id,
        "sessionId": message.session_id,
        "role": message.role,
        "content": message.content,
        "replyToId": message.reply_to_id,
        "timestamp": iso(message.created_at),
        "metadata": metadata,
    }


def _memory(memory: Memory) -> dict[str, Any]:
    return {
        "id": memory.id,
        "agentId": memory.agent_id,
        "sessionId": memory.session_id,
        "category": memory.category,
        "key": memory.key,
        "value": memory.value,
        "context": memory.context,
        "importance": memory.importance,
        "lastAccessedAt": iso(memory.last_accessed_at),
        "expiresAt": iso(memory.expires_at),
        "createdAt": iso(memory.created_at),
    }


@router.post("/sessions", status_code=201)
async def create_session(
    body: NewSession, platform: PlatformDep, principal: PrincipalDep
) -> JSONResponse:
    agent = platform.agents.catalog.get(body.agentId)
    session = await platform.chat.create_session(
        principal,
        agent.name,
        metadata=body.metadata,
        user_id=_owner(principal, body.userId),
    )
    payload = _session(session, detail=True)
    del payload["messageCount"], payload["lastMessageAt"]
    payload["createdAt"] = payload["updatedAt"] = payload["startedAt"]
    return JSONResponse({"success": True, "session": payload}, status_code=201)


@router.get("/sessions")
async def list_sessions(
    platform: PlatformDep,
    principal: PrincipalDep,
    user_id: Annotated[str | None, Query(alias="userId", max_length=128)] = None,
    agent_id: Annotated[str | None, Query(alias="agentId", max_length=128)] = None,
    active: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    sessions, total = await platform.chat.list_sessions(
        principal,
        user_id=_owner(principal, user_id),
        agent_id=agent_id,
        active=active,
        limit=limit,
        offset=offset,
    )
    return {
        "success": True,
        "sessions": [_session(s) for s in sessions],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get("/sessions/{session_id}")
async def get_session(
    session_id: str, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, Any]:
    session = await platform.chat.get_session(principal, session_id)
    body = _session(session, detail=True)
    try:
        agent = platform.agents.catalog.get(session.agent_id)
        body["agent"] = {
            "id": agent.name,
            "name": agent.name,
            "title": agent.title,
            "icon": agent.persona.icon,
        }
    except MenagerieError:  # an agent file removed since: the session stays readable
        body["agent"] = None
    return {"success": True, "session": body}


@router.delete("/sessions/{session_id}")
async def delete_session(
    session_id: str, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, Any]:
    session = await platform.chat.get_session(principal, session_id)
    await platform.chat.delete_session(principal, session_id)
    return {
        "success": True,
        "message": "Session deleted successfully",
        "deletedMessages": session.message_count,
    }


@router.post("/sessions/{session_id}/messages", status_code=201)
async def post_message(
    session_id: str, body: NewMessage, platform: PlatformDep, principal: PrincipalDep
) -> JSONResponse:
    if body.role not in ("user", "agent"):
        raise Invalid(
            'role must be "user" or "agent"',
            field="role",
            received=body.role,
            reason="INVALID_ROLE",
        )
    message = await platform.chat.add_message(
        principal, session_id, body.role, body.content, reply_to_id=body.replyToId
    )
    return JSONResponse({"success": True, "message": _message(message)}, status_code=201)


@router.get("/sessions/{session_id}/messages")
async def get_messages(
    session_id: str,
    platform: PlatformDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    before: datetime | None = None,
    after: datetime | None = None,
    start_date: Annotated[datetime | None, Query(alias="startDate")] = None,
    end_date: Annotated[datetime | None, Query(alias="endDate")] = None,
    thread_id: Annotated[str | None, Query(alias="threadId", max_length=64)] = None,
    order: Literal["asc", "desc"] = "asc",
) -> dict[str, Any]:
    page = await platform.chat.history(
        principal,
        session_id,
        HistoryQuery(
            limit=limit,
            offset=offset,
            before=before,
            after=after,
            start_date=start_date,
            end_date=end_date,
            thread_id=thread_id,
            order=order,
        ),
    )
    return {
        "success": True,
        "messages": [_message(m) for m in page.messages],
        "total": page.total,
        "limit": page.limit,
        "offset": page.offset,
        "hasMore": page.has_more,
    }


@router.post("/stream", response_model=None)
async def stream(
    body: StreamRequest, platform: PlatformDep, principal: PrincipalDep
) -> StreamingResponse:
    session = await platform.chat.get_session(principal, body.sessionId)
    events = platform.agents.run(
        principal,
        TurnRequest(
            agent=body.agentId,
            message=body.content,
            session_id=session.id,
            create_session=False,
            reply_to_id=body.replyToId,
        ),
    )
    # refusals (unknown agent, nothing to answer, context too long) stay HTTP errors
    first, rest = await sse.primed(events)
    return sse.response(_sse(sse.chain(first, rest)))


async def _sse(events: AsyncIterator[AgentEvent]) -> AsyncIterator[str]:
    try:
        async for event in events:
            chunk = _encode(event)
            if chunk:
                yield chunk
    except MenagerieError as error:
        yield sse.data({"type": "error", "error": error.message, "retryable": is_retryable(error)})
        return
    except Exception:
        log.exception("chat stream failed")
        yield sse.data(
            {
                "type": "error",
                "error": "the stream failed",
                "code": "STREAM_ERROR",
                "retryable": True,
            }
        )
        return
    yield sse.data("[DONE]")


def _encode(event: AgentEvent) -> str | None:
    if isinstance(event, TextChunk):
        return sse.data({"type": "chunk", "content": event.text})
    if isinstance(event, MemoryUpdate):
        memory = event.memory
        return sse.data(
            {
                "type": "memory",
                "category": memory.category,
                "key": memory.key,
                "value": memory.value,
            }
        )
    if isinstance(event, ToolCallStarted):
        return sse.data({"type": "tool_call", "name": event.name, "arguments": event.arguments})
    if isinstance(event, ToolResult):
        return sse.data(
            {
                "type": "tool_result",
                "name": event.name,
                "output": event.output,
                "isError": event.is_error,
            }
        )
    return None


@router.get("/sessions/{session_id}/memory")
async def get_memory(
    session_id: str,
    platform: PlatformDep,
    principal: PrincipalDep,
    category: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> dict[str, Any]:
    session = await platform.chat.get_session(principal, session_id)
    memories = await platform.memory.list(
        principal,
        agent_id=session.agent_id,
        session_scope=session.id,
        category=category,
        limit=limit,
    )
    return {"success": True, "memory": [_memory(m) for m in memories], "total": len(memories)}


@router.post("/sessions/{session_id}/memory", status_code=201)
async def save_memory(
    session_id: str, body: SaveMemory, platform: PlatformDep, principal: PrincipalDep
) -> JSONResponse:
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
    payload = _memory(memory)
    del payload["lastAccessedAt"]
    return JSONResponse({"success": True, "memory": payload}, status_code=201)


@router.delete("/sessions/{session_id}/memory")
async def prune_memory(
    session_id: str,
    platform: PlatformDep,
    principal: PrincipalDep,
    older_than: Annotated[datetime | None, Query(alias="olderThan")] = None,
    importance_less_than: Annotated[
        float | None, Query(alias="importanceLessThan", ge=0, le=1)
    ] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    session = await platform.chat.get_session(principal, session_id)
    deleted = await platform.memory.prune(
        principal,
        older_than=older_than,
        importance_less_than=importance_less_than,
        category=category,
        agent_id=session.agent_id,
        session_scope=session.id,
    )
    return {"success": True, "message": "Memory pruned successfully", "deletedCount": deleted}
