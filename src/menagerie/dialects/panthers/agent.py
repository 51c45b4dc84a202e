"""A Secret Panther's own API (seed 002 "Agent API"), one per NFT, under `/agents/{nft_token_id}`.

Each NFT's agent runs the `panther` persona; its conversations carry the token id, so a
conversation of one agent is never reachable through another.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from menagerie.core.agents.events import TextChunk, TurnDone, is_retryable
from menagerie.core.agents.runtime import TurnRequest
from menagerie.core.chat.models import ChatSession, HistoryQuery
from menagerie.core.clock import iso
from menagerie.core.errors import MenagerieError, NotFound
from menagerie.core.identity.models import Principal
from menagerie.http.deps import get_platform, require_principal
from menagerie.platform import Platform
from menagerie.realtime import sse

log = logging.getLogger(__name__)
router = APIRouter(prefix="/agents/{nft_token_id}", tags=["agent"])
PlatformDep = Annotated[Platform, Depends(get_platform)]
PrincipalDep = Annotated[Principal, Depends(require_principal)]
AGENT = "panther"
TokenId = Annotated[str, Field(max_length=78, pattern=r"^[0-9]+$")]


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: str = Field(min_length=1)
    conversation_id: str | None = Field(None, max_length=64)
    stream: bool = False


class ClearIn(BaseModel):
    conversation_id: str = Field(min_length=1, max_length=64)


def _request(nft_token_id: str, body: ChatIn) -> TurnRequest:
    return TurnRequest(
        agent=AGENT,
        message=body.message,
        session_id=body.conversation_id,
        session_metadata={"nft_token_id": nft_token_id},
    )


async def _conversation(
    platform: Platform, principal: Principal, nft_token_id: str, conversation_id: str
) -> ChatSession:
    session = await platform.chat.get_session(principal, conversation_id)
    if str(session.metadata.get("nft_token_id")) != nft_token_id:
        raise NotFound(f"conversation {conversation_id} not found")
    return session


@router.get("/health", tags=["monitoring"])
async def agent_health(nft_token_id: str, platform: PlatformDep) -> dict[str, Any]:
    report = await platform.health.report()
    return {
        "status": "healthy" if report.healthy else "unhealthy",
        "version": platform.version,
        "uptime": report.uptime_s,
    }


@router.get("/info")
async def agent_info(nft_token_id: str, platform: PlatformDep) -> dict[str, Any]:
    agent = platform.agents.catalog.get(AGENT)
    model = platform.agents.router.chain(agent.model)[0]
    return {
        "name": f"{agent.title} #{nft_token_id}",
        "nft_token_id": nft_token_id,
        "capabilities": agent.capabilities,
        "model": model.model_id,
        "status": "running",
    }


@router.post("/chat", response_model=None)
async def chat(
    nft_token_id: str, body: ChatIn, platform: PlatformDep, principal: PrincipalDep
) -> JSONResponse | StreamingResponse:
    await platform.wallets.authorize_agent(principal, nft_token_id)
    if body.conversation_id:
        await _owned_or_new(platform, principal, nft_token_id, body.conversation_id)
    events = platform.agents.run(principal, _request(nft_token_id, body))
    first, rest = await sse.primed(events)
    if body.stream:
        return sse.response(_sse(sse.chain(first, rest)))
    done = None
    async for event in rest:
        if isinstance(event, TurnDone):
            done = event
    assert done is not None
    return JSONResponse(
        {
            "response": done.message.content,
            "conversation_id": done.message.session_id,
            "timestamp": iso(done.message.created_at),
            "tokens_used": done.input_tokens + done.output_tokens,
        }
    )


async def _owned_or_new(
    platform: Platform, principal: Principal, nft_token_id: str, conversation_id: str
) -> None:
    try:
        await _conversation(platform, principal, nft_token_id, conversation_id)
    except NotFound:
        try:
            await platform.chat.get_session(principal, conversation_id)
        except NotFound:
            return  # a new conversation: the turn opens it
        raise  # it exists, for another agent


def _chunk(event: TextChunk | TurnDone) -> dict[str, Any]:
    """A `chat_chunk` event (seed 002 "Chat Streaming"), the same over SSE and the socket."""
    if isinstance(event, TextChunk):
        return {"type": "chat_chunk", "content": event.text, "done": False}
    return {
        "type": "chat_chunk",
        "content": "",
        "done": True,
        "conversation_id": event.message.session_id,
        "tokens_used": event.input_tokens + event.output_tokens,
    }


async def _sse(events: Any) -> Any:
    try:
        async for event in events:
            if isinstance(event, TextChunk | TurnDone):
                yield sse.data(_chunk(event))
    except MenagerieError as error:
        yield sse.data(
            {
                "type": "error",
                "error": {"code": error.reason, "message": error.message},
                "retryable": is_retryable(error),
            }
        )


@router.get("/chat/history")
async def history(
    nft_token_id: str,
    platform: PlatformDep,
    principal: PrincipalDep,
    conversation_id: Annotated[str, Query(min_length=1, max_length=64)],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    await platform.wallets.authorize_agent(principal, nft_token_id)
    session = await _conversation(platform, principal, nft_token_id, conversation_id)
    page = await platform.chat.history(
        principal,
        session.id,
        HistoryQuery(limit=limit, offset=offset, roles=("user", "agent")),
    )
    return {
        "messages": [
            {
                "id": m.id,
                "role": "assistant" if m.role == "agent" else m.role,
                "content": m.content,
                "timestamp": iso(m.created_at),
                "tokens_used": m.input_tokens + m.output_tokens,
            }
            for m in page.messages
        ],
        "total": page.total,
        "conversation_id": session.id,
    }


@router.post("/chat/clear")
async def clear(
    nft_token_id: str, body: ClearIn, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, Any]:
    await platform.wallets.authorize_agent(principal, nft_token_id)
    session = await _conversation(platform, principal, nft_token_id, body.conversation_id)
    removed = await platform.chat.clear(principal, session.id)
    return {"message": f"Conversation cleared: {removed} messages removed"}


@router.websocket("/ws")
async def agent_socket(nft_token_id: str, websocket: WebSocket) -> None:
    """`chat_stream` requests answered with `chat_chunk` events (seed 002 "Chat Streaming")."""
    platform: Platform = websocket.app.state.platform
    token = websocket.query_params.get("token") or ""
    try:
        principal = await platform.identity.authenticate_bearer(token)
        await platform.wallets.authorize_agent(principal, nft_token_id)
    except MenagerieError as error:
        # refuse before accepting: the client sees the handshake fail (HTTP 403)
        log.info("agent socket refused: %s", error.reason)
        await websocket.close(code=1008, reason=error.reason)
        return
    await websocket.accept()
    try:
        while True:
            request = await websocket.receive_json()
            if not isinstance(request, dict) or request.get("type") != "chat_stream":
                await websocket.send_json(
                    {
                        "type": "error",
                        "error": {
                            "code": "INVALID_REQUEST",
                            "message": 'send {"type": "chat_stream", "message": …}',
                        },
                    }
                )
                continue
            await _stream_over_socket(websocket, platform, principal, nft_token_id, request)
    except WebSocketDisconnect:
        return


async def _stream_over_socket(
    websocket: WebSocket,
    platform: Platform,
    principal: Principal,
    nft_token_id: str,
    request: dict[str, Any],
) -> None:
    try:
        body = ChatIn.model_validate(request)
        if body.conversation_id:
            await _owned_or_new(platform, principal, nft_token_id, body.conversation_id)
        async for event in platform.agents.run(principal, _request(nft_token_id, body)):
            if isinstance(event, TextChunk | TurnDone):
                await websocket.send_json(_chunk(event))
    except MenagerieError as error:
        await websocket.send_json(
            {"type": "error", "error": {"code": error.reason, "message": error.message}}
        )
    except ValueError as error:  # the request failed its schema
        await websocket.send_json(
            {"type": "error", "error": {"code": "INVALID_REQUEST", "message": str(error)[:500]}}
        )
