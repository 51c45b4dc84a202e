"""Tracing with OpenTelemetry: a span per request and per model call, kept in process.

Each platform owns its `TracerProvider` (never the global one, so two servers in a process
trace apart). Its span store, a span processor, holds the spans in flight and the latest
finished ones, and counts what it saw; the observability APIs read it. Model calls follow the
GenAI semantic conventions (`gen_ai.request.model`, `gen_ai.usage.input_tokens` …); a call is
recorded when the usage ledger records it, with its measured start and end, as a child of
the request that made it. Agent turns (`invoke_agent`), tool calls (`execute_tool`) and sandbox
commands (`sandbox.exec`) are spans of their own, children of whatever span is current. With an
OTLP endpoint the spans are also exported, batched, over OTLP/HTTP; shutdown flushes them.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.trace import NoOpTracer, SpanKind, StatusCode, Tracer

from menagerie.core.llm.usage import UsageRecord

# the latest finished spans, for a look at what just happened (tests, a debugger): each one
# weighs ~6 KB, and 10,000 of them were 60 MB that a soak saw as growth
KEEP_FINISHED = 500


@dataclass(frozen=True, slots=True)
class SpanView:
    trace_id: str
    span_id: str
    name: str
    started_at: datetime
    duration_ms: float  # so far, for a span in flight
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TraceFigures:
    traces: int  # finished root spans
    trace_errors: int
    average_trace_ms: float  # 0 before the first trace
    spans: int  # finished spans of any kind
    db_spans: int  # spans naming a `db.system`
    external_spans: int  # calls out of the server (kind CLIENT: model providers, tools)


class SpanStore(SpanProcessor):
    def __init__(self) -> None:
        self._active: dict[int, Span] = {}
        self.finished: deque[ReadableSpan] = deque(maxlen=KEEP_FINISHED)
        self._traces = self._errors = self._spans = self._db = self._external = 0
        self._trace_ms = 0.0

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self._active[span.context.span_id] = span

    def on_end(self, span: ReadableSpan) -> None:
        self._active.pop(span.context.span_id, None)
        self.finished.append(span)
        self._spans += 1
        attributes = span.attributes or {}
        if "db.system" in attributes or "db.system.name" in attributes:
            self._db += 1
        if span.kind == SpanKind.CLIENT:
            self._external += 1
        if span.parent is None:
            self._traces += 1
            self._trace_ms += _duration_ms(span)
            if span.status.status_code == StatusCode.ERROR:
                self._errors += 1

    def active(self, limit: int, tenants: frozenset[str | None]) -> list[SpanView]:
        """The spans in flight of these tenants (None: not yet known to be anyone's),
        longest-running first."""
        now = time.time_ns()
        spans = sorted(
            (s for s in self._active.values() if _tenant(s) in tenants),
            key=lambda s: s.start_time or now,
        )[:limit]
        return [_view(span, now) for span in spans]

    def figures(self) -> TraceFigures:
        return TraceFigures(
            traces=self._traces,
            trace_errors=self._errors,
            average_trace_ms=round(self._trace_ms / self._traces, 3) if self._traces else 0.0,
            spans=self._spans,
            db_spans=self._db,
            external_spans=self._external,
        )

    def shutdown(self) -> None:
        self._active.clear()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


TENANT = "menagerie.tenant_id"


def _tenant(span: ReadableSpan) -> str | None:
    value = (span.attributes or {}).get(TENANT)
    return value if isinstance(value, str) else None


def _duration_ms(span: ReadableSpan, now: int | None = None) -> float:
    end = span.end_time or now or time.time_ns()
    return round((end - (span.start_time or end)) / 1e6, 3)


def _view(span: ReadableSpan, now: int) -> SpanView:
    started = datetime.fromtimestamp((span.start_time or now) / 1e9, tz=UTC)
    return SpanView(
        trace_id=format(span.context.trace_id, "032x"),
        span_id=format(span.context.span_id, "016x"),
        name=span.name,
        started_at=started,
        duration_ms=_duration_ms(span, now),
        attributes=dict(span.attributes or {}),
    )


class Tracing:
    def __init__(
        self,
        service_name: str = "menagerie",
        otlp_endpoint: str | None = None,
        *,
        enabled: bool = True,
    ) -> None:
        """Disabled (`MENAGERIE_TRACING_ENABLED=false`): the tracer records nothing, the
        store stays empty and nothing is exported."""
        self.enabled = enabled
        self.provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        self.store = SpanStore()
        self.provider.add_span_processor(self.store)
        if otlp_endpoint and enabled:
            # imported here: the exporter (protobuf, requests) loads only when it is wanted
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            self.provider.add_span_processor(
                BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint))
            )
        self.tracer: Tracer = self.provider.get_tracer("menagerie") if enabled else NoOpTracer()

    def model_call(self, record: UsageRecord) -> None:
        """A usage ledger listener: the call as a client span, timed as it was measured."""
        end = time.time_ns()
        start = end - int(max(0.0, record.latency_ms) * 1e6)
        span = self.tracer.start_span(
            f"chat {record.model}",
            kind=SpanKind.CLIENT,
            start_time=start,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.system": record.provider,
                "gen_ai.request.model": record.model,
                "gen_ai.usage.input_tokens": record.input_tokens,
                "gen_ai.usage.output_tokens": record.output_tokens,
                TENANT: record.tenant_id,
            },
        )
        if record.outcome != "ok":
            span.set_status(StatusCode.ERROR, record.error_code or "error")
        span.end(end_time=end)

    def shutdown(self) -> None:
        """End tracing; the spans not yet exported are sent first (this blocks: the export
        is over HTTP, bounded by the exporter's timeout)."""
        self.provider.shutdown()
