"""Crazy Gary `/api/observability/metrics` and `/api/observability/traces/active` (seed 004).

Both read the platform's span store (core/ops/tracing.py) and event counter; both are
operator data, for admins. The spans in flight an admin sees are its tenant's, and for the
server's operator also those not yet known to be anyone's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from menagerie.core.clock import iso
from menagerie.core.ops.tracing import TENANT
from menagerie.dialects.gary.deps import AdminDep, PlatformDep
from menagerie.dialects.gary.schemas.observability import (
    ActiveSpan,
    Events,
    ObservabilityMetrics,
    Spans,
    Traces,
)

router = APIRouter(prefix="/api/observability", tags=["observability"])


@router.get("/metrics", response_model=ObservabilityMetrics)
async def metrics(platform: PlatformDep, admin: AdminDep) -> ObservabilityMetrics:
    figures = platform.tracing.store.figures()
    counted = platform.event_counter
    kinds = counted.by_kind if counted is not None else {}
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
