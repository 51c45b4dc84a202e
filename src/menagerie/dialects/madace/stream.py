"""MADACE `POST /api/v3/chat/stream` (seed 001): the agent's answer as Server-Sent Events."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter
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
from menagerie.core.errors import Internal, MenagerieError
from menagerie.dialects.madace.config import preferred_model
from menagerie.dialects.madace.deps import PlatformDep, PrincipalDep
from menagerie.dialects.madace.envelope import MadaceEnvelope, wire_words
from menagerie.dialects.madace.schemas.messages import (
    STREAM_EVENTS,
    ChunkEvent,
    ErrorEvent,
    MemoryEvent,
    StreamEvent,
    StreamRequest,
    ToolCallEvent,
    ToolResultEvent,
)
from menagerie.http.openapi import errors, sse_response
from menagerie.realtime import sse

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v3/chat", tags=["chat"])
ENVELOPE = MadaceEnvelope()


EVENTS_DOC = sse_response(
    "Server-Sent Events: `data: <event>` lines, then `data: [DONE]`", *STREAM_EVENTS
)


@router.post(
    "/stream",
    response_class=StreamingResponse,  # no media type of its own: errors stay JSON
    responses={200: EVENTS_DOC, **errors(404, 413, 503)},
)
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
            # the tenant's saved LLM choice (POST /api/config), passed over if not callable
            model=await preferred_model(platform, principal),
            model_is_preference=True,
        ),
    )
    # refusals (unknown agent, nothing to answer, context too long) stay HTTP errors
    first, rest = await sse.primed(events)
    return sse.response(_sse(sse.chain(first, rest)))


async def _sse(events: AsyncIterator[AgentEvent]) -> AsyncIterator[str]:
    try:
        async for event in events:
            encoded = _event(event)
            if encoded is not None:
                yield sse.data(encoded.model_dump(mode="json"))
    except MenagerieError as error:
        yield sse.data(_error(error, retryable=is_retryable(error)).model_dump(mode="json"))
        return
    except Exception:
        log.exception("chat stream failed")
        failure = Internal("the stream failed", reason="STREAM_ERROR")
        yield sse.data(_error(failure, retryable=True).model_dump(mode="json"))
        return
    yield sse.data("[DONE]")


def _error(error: MenagerieError, *, retryable: bool) -> ErrorEvent:
    # a failure after the first byte has no status: its code is the seed's, and STREAM_ERROR
    # where the envelope has nothing more precise than an internal error
    code = ENVELOPE.code_for(error)
    return ErrorEvent(
        error=wire_words(error.message),
        code="STREAM_ERROR" if code == "INTERNAL_ERROR" else code,
        retryable=retryable,
    )


def _event(event: AgentEvent) -> StreamEvent | None:
    if isinstance(event, TextChunk):
        return ChunkEvent(content=event.text)
    if isinstance(event, MemoryUpdate):
        memory = event.memory
        return MemoryEvent(category=memory.category, key=memory.key, value=memory.value)
    if isinstance(event, ToolCallStarted):
        return ToolCallEvent(name=event.name, arguments=event.arguments)
    if isinstance(event, ToolResult):
        return ToolResultEvent(name=event.name, output=event.output, isError=event.is_error)
    return None
