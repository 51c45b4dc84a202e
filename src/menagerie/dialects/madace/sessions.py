"""MADACE chat v3 sessions (seed 001): create, list, read, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from menagerie.core.chat.models import ChatSession
from menagerie.core.clock import iso
from menagerie.core.errors import NotFound
from menagerie.core.paging import MAX_OFFSET
from menagerie.dialects.madace.deps import PlatformDep, PrincipalDep
from menagerie.dialects.madace.schemas.sessions import (
    CreatedSession,
    NewSession,
    SessionAgent,
    SessionCreated,
    SessionDeleted,
    SessionDetail,
    SessionFound,
    SessionList,
    SessionListItem,
)
from menagerie.http.openapi import errors

router = APIRouter(prefix="/api/v3/chat", tags=["chat"])


def _started(session: ChatSession) -> str:
    started = iso(session.started_at)
    assert started is not None  # every session has started
    return started


@router.post("/sessions", status_code=201, response_model=SessionCreated, responses=errors(404))
async def create_session(
    body: NewSession, platform: PlatformDep, principal: PrincipalDep
) -> SessionCreated:
    agent = platform.agents.catalog.get(body.agentId)
    # `userId` names whom the session is for; core decides whom the caller may act for
    session = await platform.chat.create_session(
        principal, agent.name, metadata=body.metadata, user_id=body.userId
    )
    started = _started(session)
    return SessionCreated(
        session=CreatedSession(
            id=session.id,
            userId=session.user_id,
            agentId=session.agent_id,
            startedAt=started,
            endedAt=iso(session.ended_at),
            metadata=session.metadata,
            # a new session: created, updated and started are one moment
            createdAt=started,
            updatedAt=started,
        )
    )


@router.get("/sessions", response_model=SessionList)
async def list_sessions(
    platform: PlatformDep,
    principal: PrincipalDep,
    user_id: Annotated[str, Query(alias="userId", min_length=1, max_length=128)],
    agent_id: Annotated[str | None, Query(alias="agentId", max_length=128)] = None,
    active: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> SessionList:
    sessions, total = await platform.chat.list_sessions(
        principal, user_id=user_id, agent_id=agent_id, active=active, limit=limit, offset=offset
    )
    return SessionList(
        sessions=[
            SessionListItem(
                id=s.id,
                userId=s.user_id,
                agentId=s.agent_id,
                startedAt=_started(s),
                endedAt=iso(s.ended_at),
                messageCount=s.message_count,
                lastMessageAt=iso(s.last_message_at),
            )
            for s in sessions
        ],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/sessions/{session_id}", response_model=SessionFound, responses=errors(404))
async def get_session(
    session_id: str, platform: PlatformDep, principal: PrincipalDep
) -> SessionFound:
    session = await platform.chat.get_session(principal, session_id)
    agent: SessionAgent | None = None
    try:
        found = platform.agents.catalog.get(session.agent_id)
        agent = SessionAgent(
            id=found.name, name=found.name, title=found.title, icon=found.persona.icon
        )
    except NotFound:  # an agent file removed since: the session stays readable
        agent = None
    return SessionFound(
        session=SessionDetail(
            id=session.id,
            userId=session.user_id,
            agentId=session.agent_id,
            startedAt=_started(session),
            endedAt=iso(session.ended_at),
            metadata=session.metadata,
            agent=agent,
            messageCount=session.message_count,
            lastMessageAt=iso(session.last_message_at),
        )
    )


@router.delete("/sessions/{session_id}", response_model=SessionDeleted, responses=errors(404))
async def delete_session(
    session_id: str, platform: PlatformDep, principal: PrincipalDep
) -> SessionDeleted:
    deleted = await platform.chat.delete_session(principal, session_id)
    return SessionDeleted(deletedMessages=deleted)
