"""Crazy Gary `/api/observability/*` (seed 004): metrics, active traces, the event stream.

`metrics` and `traces/active` read the platform's span store (core/ops/tracing.py) and event
journal; both are operator data, for admins. The spans in flight an admin sees are its
tenant's, and for the server's operator also those not yet known to be anyone's.
`events/stream` is Server-Sent Events of the caller's tenant's events (core decides which):
`id:` numbers them, so a client resumes with `Last-Event-ID`; a comment line every 15 s
keeps idle connections open. An event's name is its topic with `_` for `.`
(`task_created`, `system_alert`, `mcp_server_status`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from menagerie.core.clock import iso
from menagerie.core.events.journal import EventJournal
from menagerie.core.identity.models import Principal
from menagerie.core.ops.tracing import TENANT
from menagerie.dialects.gary.deps import AdminDep, PlatformDep, PrincipalDep
from menagerie.dialects.gary.schemas.observability import (
    ActiveSpan,
    Events,
    ObservabilityMetrics,
    Spans,
    StreamedEvent,
    Traces,
)
from menagerie.http.openapi import sse_response
from menagerie.realtime import sse

router = APIRouter(prefix="/api/observability", tags=["observability"])


@router.get("/metrics", response_model=ObservabilityMetrics)
async def metrics(platform: PlatformDep, admin: AdminDep) -> ObservabilityMetrics:
    figures = platform.tracing.store.figures()
    kinds = platform.journal.by_kind if platform.journal is not None else {}
    return ObservabilityMetrics(
        traces=Traces(
            total=figures.traces,
            error_rate=round(figures.trace_errors / figures.traces, 4) if figures.traces else 0.0,
            average_latency=figures.average_trace_ms,
        ),
        spans=Spans(
            total=figures.spans,
            db_spans=figures.db_spans,
            external_spans=figures.external_spans,
        ),
        events=Events(
            total=sum(kinds.values()),
            agent_events=kinds.get("agent", 0),
            task_events=kinds.get("task", 0),
        ),
    )


@router.get("/traces/active", response_model=list[ActiveSpan])
async def active_traces(
    platform: PlatformDep,
    admin: AdminDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[ActiveSpan]:
    tenants: frozenset[str | None] = frozenset({admin.tenant_id})
    if admin.tenant_id == platform.settings.default_tenant:
        tenants |= {None}
    return [
        ActiveSpan(
            trace_id=span.trace_id,
            span_id=span.span_id,
            operation_name=span.name,
            start_time=iso(span.started_at) or "",
            duration=span.duration_ms,
            tags={k: str(v) for k, v in span.attributes.items() if k != TENANT},
        )
        for span in platform.tracing.store.active(limit, tenants)
    ]


# the seed's alert is `system_alert` on socket.io; on the stream it keeps that name
NAMES = {"ops.alert": "system_alert", "ops.health": "health_status"}
HEARTBEAT_S = 15.0


async def _stream(
    journal: EventJournal, principal: Principal, after: int | None
) -> AsyncIterator[str]:
    async for entry in journal.follow(principal, after=after, heartbeat_s=HEARTBEAT_S):
        if entry is None:
            yield ": heartbeat\n\n"
            continue
        number, event = entry
        name = NAMES.get(event.topic, event.topic.replace(".", "_"))
        data = {k: v for k, v in event.payload.items() if k != "tenant_id"}
        yield f"id: {number}\n" + sse.data({"event": name, "data": data})


@router.get(
    "/events/stream",
    response_class=StreamingResponse,
    responses={200: sse_response("the tenant's events as they happen", StreamedEvent)},
)
async def events_stream(
    platform: PlatformDep,
    principal: PrincipalDep,
    last_event_id: Annotated[str | None, Header(description="resume after this event's id")] = None,
) -> StreamingResponse:
    assert platform.journal is not None
    # an id this process never gave (not a number, or past any) starts from now on
    given = last_event_id.strip() if last_event_id else ""
    after = int(given) if given.isdigit() and len(given) <= 18 else None
    return sse.response(_stream(platform.journal, principal, after))
