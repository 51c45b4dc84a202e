"""MADACE chat v3 messages (seed 001): send one, read a page with threads and time bounds."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from menagerie.core.chat.models import HistoryQuery, Message
from menagerie.core.clock import iso
from menagerie.core.errors import Invalid
from menagerie.core.paging import MAX_OFFSET
from menagerie.dialects.madace.deps import PlatformDep, PrincipalDep
from menagerie.dialects.madace.schemas.messages import (
    ROLES,
    AnswerMetadata,
    MessageOut,
    MessagePage,
    MessagePosted,
    NewMessage,
)
from menagerie.http.openapi import errors
from menagerie.http.wire import IsoTime

router = APIRouter(prefix="/api/v3/chat", tags=["chat"])


def message_out(message: Message) -> MessageOut:
    metadata: AnswerMetadata | dict[str, Any] | None = dict(message.metadata) or None
    if message.model:
        metadata = AnswerMetadata(
            **message.metadata,
            model=message.model,
            tokens=message.input_tokens + message.output_tokens,
            cost=message.cost,
            latencyMs=message.latency_ms,
        )
    timestamp = iso(message.created_at)
    assert timestamp is not None
    return MessageOut(
        id=message.id,
        sessionId=message.session_id,
        role=message.role,
        content=message.content,
        replyToId=message.reply_to_id,
        timestamp=timestamp,
        metadata=metadata,
    )


@router.post(
    "/sessions/{session_id}/messages",
    status_code=201,
    response_model=MessagePosted,
    responses=errors(404),
)
async def post_message(
    session_id: str, body: NewMessage, platform: PlatformDep, principal: PrincipalDep
) -> MessagePosted:
    if body.role not in ROLES:
        # core knows more roles (system, tool); this API lets clients write two
        raise Invalid(
            'role must be "user" or "agent"',
            field="role",
            received=body.role,
            expected="user | agent",
            reason="INVALID_ROLE",
        )
    message = await platform.chat.add_message(
        principal, session_id, body.role, body.content, reply_to_id=body.replyToId
    )
    return MessagePosted(message=message_out(message))


@router.get("/sessions/{session_id}/messages", response_model=MessagePage, responses=errors(404))
async def get_messages(
    session_id: str,
    platform: PlatformDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    before: IsoTime | None = None,
    after: IsoTime | None = None,
    thread_id: Annotated[str | None, Query(alias="threadId", min_length=1, max_length=64)] = None,
    order: Literal["asc", "desc"] = "asc",
) -> MessagePage:
    page = await platform.chat.history(
        principal,
        session_id,
        HistoryQuery(
            limit=limit,
            offset=offset,
            before=before,
            after=after,
            thread_id=thread_id,
            order=order,
        ),
    )
    return MessagePage(
        messages=[message_out(m) for m in page.messages],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        hasMore=page.has_more,
    )
