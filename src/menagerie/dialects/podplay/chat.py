"""PodPlay's Mama Bear chat and memories (seed 000): `/api/chat/*`.

PodPlay names the user in each request (`user_id`); an admin credential acts as that user of
its tenant, anyone else always as themself (`Principal.acting_for`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from menagerie.core.agents.events import AgentEvent, TextChunk, TurnDone, is_retryable
from menagerie.core.agents.runtime import TurnRequest
from menagerie.core.chat.models import Exchange
from menagerie.core.clock import iso, utcnow
from menagerie.core.errors import Internal, MenagerieError
from menagerie.core.memory.models import ScoredMemory
from menagerie.core.memory.service import draft
from menagerie.core.paging import MAX_OFFSET
from menagerie.dialects.podplay.deps import CHAT, PlatformDep, PrincipalDep, under_maintenance
from menagerie.dialects.podplay.envelope import PodPlayEnvelope
from menagerie.dialects.podplay.schemas.chat import (
    ChatAnswer,
    ChatIn,
    ChatMetadata,
    History,
    HistoryMessage,
    Memories,
    MemoryIn,
    MemoryItem,
    MemoryStored,
    Pagination,
    SessionDeleted,
    StreamChunk,
    StreamComplete,
    StreamError,
)
from menagerie.http.openapi import errors, sse_response
from menagerie.realtime import sse

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/chat", tags=["chat"], **under_maintenance(CHAT))
AGENT = "mama-bear"
ENVELOPE = PodPlayEnvelope()
# PodPlay writes importance as a word; the store keeps 0..1
IMPORTANCE = {"critical": 1.0, "high": 0.9, "medium": 0.6, "normal": 0.5, "low": 0.3}
# no model Menagerie calls reports a confidence: this says "not measured" (docs/contract.md)
CONFIDENCE_NOT_MEASURED = -1.0
USER_ID = Query(
    min_length=1, max_length=128, description="the user whose chats these are (required)"
)

STREAM_DOC = {
    200: sse_response(
        "The answer; with `stream: true`, server-sent events: `chunk`s, then `complete` (the "
        "answer's fields) or `error`, then `data: [DONE]`",
        StreamChunk,
        StreamComplete,
        StreamError,
    ),
    # 409: the session id is taken (by a chat the caller cannot see)
    **errors(404, 409, 502, 503),
}


def turn_answer(done: TurnDone, context_used: bool) -> ChatAnswer:
    """The documented answer of `POST /api/chat/mama-bear` (also sent over socket.io)."""
    return ChatAnswer(
        response=done.message.content,
        session_id=done.message.session_id,
        message_id=done.message.id,
        model_used=done.model,
        tokens_used=done.input_tokens + done.output_tokens,
        cost=round(done.cost, 6),
        timestamp=iso(done.message.created_at) or "",
        metadata=ChatMetadata(
            response_time=round(done.latency_ms / 1000, 3),
            confidence=CONFIDENCE_NOT_MEASURED,
            context_used=context_used,
            memory_stored=bool(done.memories),
            tool_steps=done.steps - 1,
        ),
    )


@router.post("/mama-bear", response_model=ChatAnswer, responses=STREAM_DOC)
async def mama_bear(
    body: ChatIn, platform: PlatformDep, principal: PrincipalDep
) -> ChatAnswer | StreamingResponse:
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
    if done is None:
        raise Internal("the agent ended its turn without an answer")
    return turn_answer(done, context_used)


async def _stream(events: AsyncIterator[AgentEvent], context_used: bool) -> AsyncIterator[str]:
    try:
        async for event in events:
            if isinstance(event, TextChunk):
                yield sse.data(StreamChunk(content=event.text).model_dump(mode="json"))
            elif isinstance(event, TurnDone):
                answer = turn_answer(event, context_used)
                yield sse.data(StreamComplete(**answer.model_dump()).model_dump(mode="json"))
    except MenagerieError as error:
        code = ENVELOPE.code_for(error)
        reason = ENVELOPE.reason_of(error, code)
        failure = StreamError(
            error=error.message,
            error_code=code,
            details={"reason": reason} if reason else {},
            retryable=is_retryable(error),
        )
        yield sse.data(failure.model_dump(mode="json"))
        return
    yield sse.data("[DONE]")


def _message(pair: Exchange) -> HistoryMessage:
    return HistoryMessage(
        message_id=pair.answer.id,
        session_id=pair.answer.session_id,
        user_message=pair.question.content if pair.question else None,
        ai_response=pair.answer.content,
        model_used=pair.answer.model,
        timestamp=iso(pair.answer.created_at) or "",
        tokens_used=pair.answer.input_tokens + pair.answer.output_tokens,
        cost=pair.answer.cost,
    )


@router.get("/history", response_model=History, responses=errors(404))
async def history(
    platform: PlatformDep,
    principal: PrincipalDep,
    user_id: Annotated[str, USER_ID],
    session_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
) -> History:
    pairs, total = await platform.chat.exchanges(
        principal.acting_for(user_id),
        session_id=session_id,
        limit=limit,
        offset=offset,
        start_date=start_date,
        end_date=end_date,
    )
    return History(
        messages=[_message(pair) for pair in pairs],
        pagination=Pagination(
            total=total, limit=limit, offset=offset, has_more=offset + len(pairs) < total
        ),
    )


@router.delete("/history/{session_id}", response_model=SessionDeleted, responses=errors(404))
async def delete_history(
    session_id: str,
    platform: PlatformDep,
    principal: PrincipalDep,
    user_id: Annotated[str | None, Query(max_length=128)] = None,
) -> SessionDeleted:
    await platform.chat.delete_session(principal.acting_for(user_id), session_id)
    return SessionDeleted(message="Session deleted successfully", session_id=session_id)


@router.post("/store-memory", response_model=MemoryStored)
async def store_memory(
    body: MemoryIn, platform: PlatformDep, principal: PrincipalDep
) -> MemoryStored:
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
    return MemoryStored(memory_id=memory.id, message="Memory stored successfully")


def _memory(hit: ScoredMemory) -> MemoryItem:
    memory = hit.memory
    return MemoryItem(
        memory_id=memory.id,
        content=memory.content,
        category=memory.category,
        relevance_score=hit.relevance_score,
        created_at=iso(memory.created_at) or "",
        metadata=memory.metadata,
    )


@router.get("/memories", response_model=Memories)
async def memories(
    platform: PlatformDep,
    principal: PrincipalDep,
    user_id: Annotated[str, USER_ID],
    category: Annotated[str | None, Query(max_length=64)] = None,
    search: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Memories:
    caller = principal.acting_for(user_id)
    hits = await platform.memory.search(caller, search or "", category=category, limit=limit)
    return Memories(memories=[_memory(hit) for hit in hits], timestamp=iso(utcnow()) or "")
