"""Row-to-value conversion, query filters and input checks of the chat store."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.chat.models import ROLES, ChatSession, HistoryQuery, Message
from menagerie.core.chat.tables import ChatMessageRow, ChatSessionRow
from menagerie.core.clock import as_utc
from menagerie.core.errors import Invalid
from menagerie.core.identity.models import Principal
from menagerie.core.paging import check_page

_SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_ORDERS = ("asc", "desc")


def check_query(query: HistoryQuery) -> None:
    """Reject a malformed query before any SQL runs; dialects build queries from raw input."""
    check_page(query.limit, query.offset)
    if query.order not in _ORDERS:
        raise Invalid(
            "order must be asc or desc", field="order", received=query.order, expected="asc|desc"
        )
    for name, bound in (("before", query.before), ("after", query.after)):
        if bound is not None and not isinstance(bound, datetime | str):
            raise Invalid(
                f"{name} must be a time or a message id",
                field=name,
                received=bound,
                expected="datetime or message id",
            )
        if isinstance(bound, str) and not bound:
            raise Invalid(f"{name} must not be empty", field=name, received=bound)
    for name, moment in (("start_date", query.start_date), ("end_date", query.end_date)):
        if moment is not None and not isinstance(moment, datetime):
            raise Invalid(
                f"{name} must be a time", field=name, received=moment, expected="datetime"
            )
    start, end = query.start_date, query.end_date
    if start is not None and end is not None and as_utc(start) > as_utc(end):
        raise Invalid(
            "start_date must not be after end_date",
            field="start_date",
            received=start.isoformat(),
            expected="a time at or before end_date",
        )
    if query.thread_id is not None and (
        not isinstance(query.thread_id, str) or not query.thread_id
    ):
        raise Invalid("thread_id must be a message id", field="thread_id", received=query.thread_id)
    unknown = [role for role in query.roles if role not in ROLES]
    if unknown:
        raise Invalid(
            f"roles must be among {', '.join(ROLES)}",
            field="roles",
            received=unknown,
            reason="INVALID_ROLE",
        )


async def filters(
    session: AsyncSession, session_id: str, query: HistoryQuery
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    for name, bound, newer in (("before", query.before, False), ("after", query.after, True)):
        if bound is None:
            continue
        if isinstance(bound, datetime):
            # times reach clients with millisecond precision: "after" a message's timestamp
            # must leave that message out, whatever its microseconds
            moment = as_utc(bound).replace(microsecond=bound.microsecond // 1000 * 1000)
            column = ChatMessageRow.created_at
            after_ms = moment + timedelta(milliseconds=1)
            conditions.append(column >= after_ms if newer else column < moment)
            continue
        position = await session.scalar(
            select(ChatMessageRow.position).where(
                ChatMessageRow.id == bound, ChatMessageRow.session_id == session_id
            )
        )
        if position is None:
            raise Invalid(f"{name} names no message of this session", field=name, received=bound)
        column = ChatMessageRow.position
        conditions.append(column > position if newer else column < position)
    if query.start_date is not None:
        conditions.append(ChatMessageRow.created_at >= as_utc(query.start_date))
    if query.end_date is not None:
        conditions.append(ChatMessageRow.created_at <= as_utc(query.end_date))
    if query.thread_id is not None:
        conditions.append(
            or_(ChatMessageRow.id == query.thread_id, ChatMessageRow.reply_to_id == query.thread_id)
        )
    if query.roles:
        conditions.append(ChatMessageRow.role.in_(query.roles))
    return [and_(*conditions)] if conditions else []


def visible(principal: Principal, owner: str) -> bool:
    return principal.may_act_for(owner)


def acting_for(principal: Principal, user_id: str | None) -> Principal:
    """The principal a request naming `user_id` acts as (the rule is `Principal.acting_for`);
    the name is checked first, so that an over-long one is refused, never cut to another."""
    if user_id is None:
        return principal
    return principal.acting_for(check_text(user_id, "user_id", 128))


def check_session_id(session_id: str) -> None:
    if not isinstance(session_id, str) or not _SESSION_ID.match(session_id):
        raise Invalid(
            "session ids are 1-64 letters, digits and _.:- characters",
            field="session_id",
            received=session_id,
        )


def check_text(value: str, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{field} must be a non-empty string", field=field, received=value)
    if len(value) > limit:
        raise Invalid(f"{field} is longer than {limit} characters", field=field)
    return value.strip()


def to_session(row: ChatSessionRow) -> ChatSession:
    return ChatSession(
        id=row.id,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        agent_id=row.agent_id,
        title=row.title,
        metadata=dict(row.meta or {}),
        started_at=row.started_at,
        ended_at=row.ended_at,
        message_count=row.message_count,
        last_message_at=row.last_message_at,
    )


def to_message(row: ChatMessageRow) -> Message:
    return Message(
        id=row.id,
        session_id=row.session_id,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        role=row.role,  # type: ignore[arg-type]
        content=row.content,
        reply_to_id=row.reply_to_id,
        model=row.model,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cost=row.cost,
        latency_ms=row.latency_ms,
        metadata=dict(row.meta or {}),
        created_at=row.created_at,
        position=row.position,
    )
