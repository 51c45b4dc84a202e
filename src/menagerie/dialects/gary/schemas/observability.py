"""Seed 004 "Observability Endpoints": `/api/observability/metrics` and `/traces/active`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Traces(BaseModel):
    total: int  # finished traces (requests, and model calls made outside one)
    error_rate: float  # the share that ended in an error
    average_latency: float  # milliseconds; 0 before the first trace


class Spans(BaseModel):
    total: int
    db_spans: int
    external_spans: int  # calls out of the server: model providers


class Events(BaseModel):
    total: int  # events this process saw on the bus
    agent_events: int
    task_events: int


class ObservabilityMetrics(BaseModel):
    traces: Traces
    spans: Spans
    events: Events


class ActiveSpan(BaseModel):
    trace_id: str
    span_id: str
    operation_name: str
    start_time: str
    duration: float  # milliseconds so far
    tags: dict[str, str]


class StreamedEvent(BaseModel):
    """One event of `/api/observability/events/stream`: `{"event": name, "data": {...}}`."""

    event: str
    data: dict[str, Any]
