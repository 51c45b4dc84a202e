"""PodPlay's Mama Bear chat and memories (seed 000): `/api/chat/*`.

PodPlay names the user in each request (`user_id`); an admin credential acts as that user of
its tenant, anyone else always as themself.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from menagerie.core.agents.events import AgentEvent, TextChunk, TurnDone, is_retryable
from menagerie.core.agents.runtime import TurnRequest
from menagerie.core.clock import iso, utcnow
from menagerie.core.errors import MenagerieError
from menagerie.core.identity.models import Principal
from menagerie.core.memory.models import Memory
from menagerie.core.memory.service import draft
from menagerie.http.deps import get_platform, require_principal
from menagerie.platform import Platform
from menagerie.realtime import sse

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/chat", tags=["chat"])
PlatformDep = Annotated[Platform, Depends(get_platform)]
PrincipalDep = Annotated[Principal, Depends(require_principal)]
AGENT = "mama-bear"
# PodPlay writes importance as a word; the store keeps 0..1
IMPORTANCE = {"critical": 1.0, "high": 0.9, "medium": 0.6, "normal": 0.5, "low": 0.3}


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: str = Field(min_length=1)
    user_id: str | None = Field(None, max_length=128)
    session_id: str | None = Field(None, max_length=64)
    context: dict[str, Any] = Field(default_factory=dict)
    stream: bool = False
    model_preference: str | None = Field(None, max_length=200)


class MemoryIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user_id: str | None = Field(None, max_length=128)
    content: str = Field(min_length=1, max_length=10_000)
    category: str = Field("general", min_length=1, max_length=64)
    metadata: dict[str, Any] = Field(default_factory=dict)


def turn_body(done: TurnDone, context_used: bool) -> dict[str, Any]:
    """The documented answer of `POST /api/chat/mama-bear` (also sent over socket.io)."""
    return {
        "success": True,
        "response": done.message.content,
        "session_id": done.message.session_id,
        "message_id": done.message.id,
        "model_used": done.model,
        "tokens_used": done.input_tokens + done.output_tokens,
        "cost": round(done.cost, 6),
        "timestamp": iso(done.message.created_at),
        "metadata": {
            "response_time": round(done.latency_ms / 1000, 3),
            "confidence": None,  # no model reports one; never made up
            "context_used": context_used,
            "memory_stored": bool(done.memories),
            "tool_steps": done.steps - 1,
        },
    }


@router.post("/mama-bear", response_model=None)
async def mama_bear(
    body: ChatIn, platform: PlatformDep, principal: PrincipalDep
) -> JSONResponse | StreamingResponse:
    caller = principal.acting_for(body.user_id)
    events = platform.agents.run(
        caller,
        TurnRequest(
            agent=AGENT,
            message=body.message,
            session_id=body.session_id,
            model=body.model_preference,
            model_is_preference=True,
            context=body.context,
            message_metadata={"context": body.context} if body.context else {},
        ),
    )
    first, rest = await sse.primed(events)
    context_used = bool(body.context)
    if body.stream:
        return sse.response(_stream(sse.chain(first, rest), context_used))
    done = None
    async for event in rest:
        if isinstance(event, TurnDone):
            done = event
    assert done is not None
    return JSONResponse(turn_body(done, context_used))


async def _stream(events: AsyncIterator[AgentEvent], context_used: bool) -> AsyncIterator[str]:
    try:
        async for event in events:
            if isinstance(event, TextChunk):
                yield sse.data({"type": "chunk", "content": event.text})
            elif isinstance(event, TurnDone):
                yield sse.data({"type": "complete", **turn_body(event, context_used)})
    except MenagerieError as error:
        yield sse.data(
            {
                "type": "error",
                "success": False,
                "error": error.message,
                "error_code": error.reason,
                "retryable": is_retryable(error),
            }
        )
        return
    yield sse.data("[DONE]")


@router.get("/history")
async def history(
    platform: PlatformDep,
    principal: PrincipalDep,
    user_id: Annotated[str | None, Query(max_length=128)] = None,
    session_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
) -> dict[str, Any]:
    caller = principal.acting_for(user_id)
    pairs, total = await platform.chat.exchanges(
        caller,
        session_id=session_id,
        limit=limit,
        offset=offset,
        start_date=start_date,
        end_date=end_date,
    )
    return {
        "success": True,
        "messages": [
            {
                "message_id": pair.answer.id,
                "session_id": pair.answer.session_id,
                "user_message": pair.question.content if pair.question else None,
                "ai_response": pair.answer.content,
                "model_used": pair.answer.model,
                "timestamp": iso(pair.answer.created_at),
                "tokens_used": pair.answer.input_tokens + pair.answer.output_tokens,
                "cost": pair.answer.cost,
            }
            for pair in pairs
        ],
        "pagination": {
            "total": total,
            "limit": limit,
            "offset": offset,
            "has_more": offset + len(pairs) < total,
        },
    }


@router.delete("/history/{session_id}")
async def delete_history(
    session_id: str,
    platform: PlatformDep,
    principal: PrincipalDep,
    user_id: Annotated[str | None, Query(max_length=128)] = None,
) -> dict[str, Any]:
    await platform.chat.delete_session(principal.acting_for(user_id), session_id)
    return {"success": True, "message": "Session deleted successfully", "session_id": session_id}


@router.post("/store-memory")
async def store_memory(body: MemoryIn, platform: PlatformDep, principal: PrincipalDep) -> Any:
    metadata = dict(body.metadata)
    importance = metadata.get("importance", 0.5)
    if isinstance(importance, str):
        importance = IMPORTANCE.get(importance.lower(), 0.5)
    tags = metadata.get("tags") if isinstance(metadata.get("tags"), list) else []
    memory = await platform.memory.save(
        principal.acting_for(body.user_id),
        draft(
            category=body.category,
            content=body.content,
            importance=importance,
            tags=[str(tag)[:64] for tag in tags],
            metadata=metadata,
            agent_id=AGENT,
        ),
    )
    return {"success": True, "memory_id": memory.id, "message": "Memory stored successfully"}


def _memory(memory: Memory, score: float | None) -> dict[str, Any]:
    return {
        "memory_id": memory.id,
        "content": memory.content,
        "category": memory.category,
        "relevance_score": score,
        "created_at": iso(memory.created_at),
        "metadata": memory.metadata,
    }


@router.get("/memories")
async def memories(
    platform: PlatformDep,
    principal: PrincipalDep,
    user_id: Annotated[str | None, Query(max_length=128)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    search: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    caller = principal.acting_for(user_id)
    hits = await platform.memory.search(caller, search or "", category=category, limit=limit)
    return {
        "success": True,
        "memories": [_memory(hit.memory, hit.relevance_score) for hit in hits],
        "timestamp": iso(utcnow()),
    }
