"""The chat page's API: agents, sessions (newest first, searchable), a session's messages
paged backwards from the newest, and turns streamed as Server-Sent Events."""

from __future__ import annotations

import html
import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Response
from starlette.responses import StreamingResponse

from menagerie.core.agents.events import (
    AgentEvent,
    MemoryUpdate,
    TextChunk,
    ToolCallStarted,
    ToolResult,
    TurnDone,
    TurnStarted,
    is_retryable,
)
from menagerie.core.agents.runtime import TurnRequest
from menagerie.core.chat.models import ChatSession, HistoryQuery, Message
from menagerie.core.clock import iso
from menagerie.core.errors import MenagerieError
from menagerie.realtime import sse
from menagerie.web.console import markdown
from menagerie.web.console.deps import ConsolePrincipalDep, PlatformDep
from menagerie.web.console.envelope import ConsoleEnvelope
from menagerie.web.console.schemas.chat import (
    AgentList,
    AgentOut,
    MessageOut,
    MessagePage,
    NewSession,
    SessionOut,
    SessionPage,
    TurnIn,
)
from menagerie.web.console.schemas.common import Deleted

log = logging.getLogger(__name__)
router = APIRouter(tags=["chat"])
ENVELOPE = ConsoleEnvelope()
DEFAULT_AGENT = "mama-bear"
TITLE_CHARS = 80


def session_out(session: ChatSession) -> SessionOut:
    return SessionOut(
        id=session.id,
        agent=session.agent_id,
        title=session.title,
        message_count=session.message_count,
        started_at=iso(session.started_at) or "",
        last_message_at=iso(session.last_message_at),
        active=session.active,
    )


def message_out(message: Message) -> MessageOut:
    tool = None
    if message.role == "tool":
        meta = message.metadata
        tool = {
            "name": meta.get("tool"),
            "call_id": meta.get("call_id"),
            "arguments": meta.get("arguments", {}),
            "is_error": bool(meta.get("is_error")),
        }
    rendered = (
        markdown.render(message.content)
        if message.role == "agent"
        else f"<p>{html.escape(message.content)}</p>"
    )
    return MessageOut(
        id=message.id,
        role=message.role,
        content=message.content,
        html=rendered,
        created_at=iso(message.created_at) or "",
        model=message.model,
        tool=tool,
        position=message.position,
    )


@router.get("/agents", response_model=AgentList)
async def agents(platform: PlatformDep, principal: ConsolePrincipalDep) -> AgentList:
    listed = [
        AgentOut(
            name=agent.name,
            title=agent.title,
            description=agent.description,
            model=agent.model,
            suggestions=list(agent.suggestions),
        )
        for agent in platform.agents.catalog.list()
    ]
    names = {agent.name for agent in listed}
    default = DEFAULT_AGENT if DEFAULT_AGENT in names else (listed[0].name if listed else "")
    return AgentList(agents=listed, default=default)


@router.get("/sessions", response_model=SessionPage)
async def sessions(
    platform: PlatformDep,
    principal: ConsolePrincipalDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    agent: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 30,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> SessionPage:
    found, total = await platform.chat.list_sessions(
        principal,
        user_id=principal.user_id,
        agent_id=agent,
        search=q.strip() if q and q.strip() else None,
        limit=limit,
        offset=offset,
    )
    return SessionPage(
        sessions=[session_out(s) for s in found], total=total, limit=limit, offset=offset
    )


@router.post("/sessions", response_model=SessionOut, status_code=201)
async def new_session(
    body: NewSession, platform: PlatformDep, principal: ConsolePrincipalDep
) -> SessionOut:
    agent = platform.agents.catalog.get(body.agent)  # an unknown agent is AGENT_NOT_FOUND
    created = await platform.chat.create_session(principal, agent.name, title=body.title)
    return session_out(created)


@router.get("/sessions/{session_id}", response_model=SessionOut)
async def session(
    session_id: str, platform: PlatformDep, principal: ConsolePrincipalDep
) -> SessionOut:
    return session_out(await platform.chat.get_session(principal, session_id))


@router.delete("/sessions/{session_id}", response_model=Deleted)
async def delete_session(
    session_id: str, platform: PlatformDep, principal: ConsolePrincipalDep
) -> Deleted:
    await platform.chat.delete_session(principal, session_id)
    return Deleted()


@router.get("/sessions/{session_id}/messages", response_model=MessagePage)
async def messages(
    session_id: str,
    platform: PlatformDep,
    principal: ConsolePrincipalDep,
    before: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> MessagePage:
    """The newest `limit` messages before `before` (a message id), read backwards along the
    session's position index: the first screen of a long session costs what a short one does."""
    page = await platform.chat.history(
        principal, session_id, HistoryQuery(limit=limit, before=before, order="desc")
    )
    shown = [message_out(m) for m in reversed(page.messages)]
    return MessagePage(messages=shown, has_more=page.has_more, total=page.total)


@router.post(
    "/sessions/{session_id}/turns",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def turn(
    session_id: str, body: TurnIn, platform: PlatformDep, principal: ConsolePrincipalDep
) -> Response:
    """Send a message and stream the answer: `started`, `chunk`…, `tool_call`, `tool_result`,
    `memory`, then `done` with the stored answer, or `error` with a sentence."""
    return await _stream_turn(platform, principal, session_id, body.message)


@router.post(
    "/sessions/{session_id}/retry",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def retry(session_id: str, platform: PlatformDep, principal: ConsolePrincipalDep) -> Response:
    """Answer the session's newest user message again (after a failed turn)."""
    return await _stream_turn(platform, principal, session_id, None)


async def _stream_turn(
    platform: PlatformDep, principal: ConsolePrincipalDep, session_id: str, message: str | None
) -> Response:
    chat = await platform.chat.get_session(principal, session_id)
    if message is not None and chat.title is None:
        title = " ".join(message.split())[:TITLE_CHARS]
        await platform.chat.update_session(principal, session_id, title=title or "Chat")
    events = platform.agents.run(
        principal,
        TurnRequest(
            agent=chat.agent_id, message=message, session_id=session_id, create_session=False
        ),
    )
    first, rest = await sse.primed(events)  # refusals (quota, not found) stay plain errors
    return sse.response(_encode(sse.chain(first, rest)))


async def _encode(events: AsyncIterator[AgentEvent]) -> AsyncIterator[str]:
    try:
        async for event in events:
            chunk = _event(event)
            if chunk:
                yield chunk
    except MenagerieError as error:
        yield _error(error.message, ENVELOPE.code_for(error), is_retryable(error))
    except Exception:
        log.exception("a console turn failed")
        yield _error("The turn failed on the server; try again.", "INTERNAL_ERROR", True)


def _error(message: str, code: str, retryable: bool) -> str:
    sentence = message[:1].upper() + message[1:]
    return sse.event("error", {"error": sentence, "code": code, "retryable": retryable})


def _event(event: AgentEvent) -> str | None:
    if isinstance(event, TurnStarted):
        user = message_out(event.user_message).model_dump() if event.user_message else None
        return sse.event("started", {"session_id": event.session_id, "user_message": user})
    if isinstance(event, TextChunk):
        return sse.event("chunk", {"text": event.text})
    if isinstance(event, ToolCallStarted):
        return sse.event(
            "tool_call",
            {"call_id": event.call_id, "name": event.name, "arguments": event.arguments},
        )
    if isinstance(event, ToolResult):
        return sse.event(
            "tool_result",
            {
                "call_id": event.call_id,
                "name": event.name,
                "output": event.output,
                "is_error": event.is_error,
            },
        )
    if isinstance(event, MemoryUpdate):
        return sse.event("memory", {"id": event.memory.id, "content": event.memory.content})
    if isinstance(event, TurnDone):
        return sse.event(
            "done",
            {
                "message": message_out(event.message).model_dump(),
                "model": event.model,
                "provider": event.provider,
                "input_tokens": event.input_tokens,
                "output_tokens": event.output_tokens,
                "latency_ms": round(event.latency_ms, 1),
            },
        )
    return None
