"""A Secret Panther's own API (seed 002 "Agent API"), one per NFT, under `/agents/{nft_token_id}`.

Which conversation is whose, and whether the NFT's agent exists, is core's
(`core/chat/nft.py`); these routes translate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from menagerie.core.agents.events import AgentEvent, TurnDone, is_retryable
from menagerie.core.chat.models import Message
from menagerie.core.clock import iso
from menagerie.core.errors import Internal, MenagerieError
from menagerie.core.paging import MAX_OFFSET
from menagerie.dialects.panthers import streaming
from menagerie.dialects.panthers.deps import AgentPrincipalDep, NftAgentsDep, NftDep, PlatformDep
from menagerie.dialects.panthers.envelope import PanthersEnvelope
from menagerie.dialects.panthers.schemas import (
    AgentHealthResponse,
    AgentInfo,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    ChatStreamError,
    ClearRequest,
    ClearResponse,
    HistoryMessage,
    HistoryResponse,
)
from menagerie.http.health import http_status
from menagerie.http.openapi import errors, sse_response
from menagerie.realtime import sse

router = APIRouter(prefix="/agents/{nft_token_id}", tags=["agent"])
ENVELOPE = PanthersEnvelope()
ConversationQuery = Annotated[
    str, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
]


@router.get(
    "/health",
    response_model=AgentHealthResponse,
    responses={
        **errors(400, 404, 503),
        503: {"model": AgentHealthResponse, "description": "the server is unhealthy"},
    },
    tags=["monitoring"],
)
async def agent_health(nft_token_id: NftDep, platform: PlatformDep, agents: NftAgentsDep) -> Any:
    await agents.agent(nft_token_id)  # an NFT that does not exist has no agent to be healthy
    report = await platform.health.report()
    body = AgentHealthResponse(
        status="healthy" if report.healthy else "unhealthy",
        version=platform.version,
        uptime=report.uptime_s,
    )
    if report.healthy:
        return body
    return JSONResponse(body.model_dump(mode="json"), status_code=http_status(report))


@router.get("/info", response_model=AgentInfo, responses=errors(400, 404))
async def agent_info(
    nft_token_id: NftDep, platform: PlatformDep, agents: NftAgentsDep
) -> AgentInfo:
    agent = await agents.agent(nft_token_id)
    model = platform.agents.router.chain(agent.definition.model)[0]
    return AgentInfo(
        name=f"{agent.definition.title} #{agent.nft_token_id}",
        nft_token_id=agent.nft_token_id,
        capabilities=agent.definition.capabilities,
        model=model.model_id,
        status=agent.status,
        status_basis=agent.basis,
    )


@router.post(
    "/chat",
    response_model=ChatResponse,
    responses={
        200: sse_response(
            "the answer; with `stream: true`, `chat_chunk` events over SSE",
            ChatChunk,
            ChatStreamError,
        ),
        **errors(400, 403, 404, 409, 502, 503, 504),
    },
)
async def chat(
    nft_token_id: NftDep,
    body: ChatRequest,
    platform: PlatformDep,
    principal: AgentPrincipalDep,
    agents: NftAgentsDep,
) -> Any:
    events = streaming.turn(
        platform, agents, principal, nft_token_id, body.message, body.conversation_id
    )
    first, rest = await sse.primed(events)
    if body.stream:
        return sse.response(_sse(sse.chain(first, rest)))
    done = first if isinstance(first, TurnDone) else None
    async for event in rest:
        if isinstance(event, TurnDone):
            done = event
    if done is None:
        raise Internal("the agent's turn ended without an answer")
    return ChatResponse(
        response=done.message.content,
        conversation_id=done.message.session_id,
        timestamp=iso(done.message.created_at) or "",
        tokens_used=done.input_tokens + done.output_tokens,
    )


async def _sse(events: AsyncIterator[AgentEvent]) -> AsyncIterator[str]:
    try:
        async for event in events:
            item = streaming.chunk(event)
            if item is not None:
                yield sse.data(streaming.wire(item))
    except MenagerieError as error:
        # the stream has begun: the error travels as an event, in the envelope's codes
        code = ENVELOPE.code_for(error)
        body = ENVELOPE.body(
            error, code=code, status=ENVELOPE.status_for(error, code), request_id="-"
        )
        event = ChatStreamError.model_validate({**body, "retryable": is_retryable(error)})
        yield sse.data(event.model_dump(mode="json"))


@router.get("/chat/history", response_model=HistoryResponse, responses=errors(400, 403, 404))
async def history(
    nft_token_id: NftDep,
    principal: AgentPrincipalDep,
    agents: NftAgentsDep,
    conversation_id: ConversationQuery,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> HistoryResponse:
    session, page = await agents.history(
        principal, nft_token_id, conversation_id, limit=limit, offset=offset
    )
    return HistoryResponse(
        messages=[_message(m) for m in page.messages],
        total=page.total,
        conversation_id=session.id,
    )


def _message(message: Message) -> HistoryMessage:
    return HistoryMessage(
        id=message.id,
        role="assistant" if message.role == "agent" else "user",
        content=message.content,
        timestamp=iso(message.created_at) or "",
        tokens_used=message.input_tokens + message.output_tokens,
    )


@router.post("/chat/clear", response_model=ClearResponse, responses=errors(400, 403, 404))
async def clear(
    nft_token_id: NftDep,
    body: ClearRequest,
    principal: AgentPrincipalDep,
    agents: NftAgentsDep,
) -> ClearResponse:
    removed = await agents.clear(principal, nft_token_id, body.conversation_id)
    return ClearResponse(
        message=f"Conversation cleared: {removed} messages removed", messages_removed=removed
    )
