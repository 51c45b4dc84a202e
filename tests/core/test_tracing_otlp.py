"""Tracing past the model calls: an agent turn is an `invoke_agent` span, its tool calls
`execute_tool` spans beneath it, its model calls in the same trace; with an OTLP endpoint
they reach a collector (a real OTLP/HTTP receiver here) when the platform stops. A sandbox
command is a `sandbox.exec` span."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from menagerie.core.agents.events import TurnDone
from menagerie.core.agents.runtime import TurnRequest
from menagerie.core.identity.models import Principal
from menagerie.core.sandboxes.models import SandboxRequest
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.principals import admin

AGENT = "chat-assistant-001"
ALICE = Principal("default", "alice", frozenset({"user"}))
DEADLINE_S = 30.0  # a deadline: the exporter batches, and the machine may be busy


@pytest.fixture
def database_url(tmp_path) -> str:  # spans do not depend on the engine
    return f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}"


@dataclass
class Receiver:
    """An OTLP/HTTP trace receiver: `POST /v1/traces`, protobuf bodies, spans kept."""

    url: str = ""
    spans: list[ProtoSpan] = field(default_factory=list)
    services: set[str] = field(default_factory=set)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def traces(self, request: web.Request) -> web.Response:
        assert request.content_type == "application/x-protobuf"
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest.FromString(body)
        async with self.changed:
            for resource_spans in export.resource_spans:
                for attribute in resource_spans.resource.attributes:
                    if attribute.key == "service.name":
                        self.services.add(attribute.value.string_value)
                for scope_spans in resource_spans.scope_spans:
                    self.spans.extend(scope_spans.spans)
            self.changed.notify_all()
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )

    async def wait_for(self, *names: str) -> list[ProtoSpan]:
        """The spans received once each of these names is among them, within the deadline."""

        def arrived() -> bool:
            seen = {span.name for span in self.spans}
            return all(name in seen for name in names)

        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(arrived), DEADLINE_S)
            return list(self.spans)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    collector = Receiver()
    app = web.Application()
    app.router.add_post("/v1/traces", collector.traces)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    site = web.SockSite(runner, listener)
    await site.start()
    collector.url = f"http://127.0.0.1:{port}/v1/traces"
    try:
        yield collector
    finally:
        await runner.cleanup()


def _attributes(span: ProtoSpan) -> dict[str, Any]:
    def value(any_value: AnyValue) -> Any:
        return getattr(any_value, any_value.WhichOneof("value") or "string_value")

    return {attribute.key: value(attribute.value) for attribute in span.attributes}


async def test_a_turn_with_a_tool_call_is_exported_as_a_span_tree(
    settings: Settings, receiver: Receiver
) -> None:
    platform = Platform.build(
        settings.model_copy(update={"offline_token_delay_ms": 0, "otlp_endpoint": receiver.url})
    )
    await platform.start()
    try:
        with platform.tracing.tracer.start_as_current_span("POST /agents/chat"):  # the request
            events = [
                event
                async for event in platform.agents.run(
                    admin(platform), TurnRequest(AGENT, "Check the clock\n/tool current_time {}")
                )
            ]
    finally:
        await platform.stop()  # flushes the export
    done = events[-1]
    assert isinstance(done, TurnDone)

    spans = await receiver.wait_for(
        "POST /agents/chat", f"invoke_agent {AGENT}", "execute_tool current_time"
    )
    assert "menagerie" in receiver.services
    [request] = [s for s in spans if s.name == "POST /agents/chat"]
    [turn] = [s for s in spans if s.name == f"invoke_agent {AGENT}"]
    [tool] = [s for s in spans if s.name == "execute_tool current_time"]
    calls = [s for s in spans if s.name.startswith("chat ") and s.parent_span_id == turn.span_id]
    assert len(calls) == done.steps == 2  # the call that asked for the tool, the answer
    assert turn.parent_span_id == request.span_id
    assert tool.parent_span_id == turn.span_id
    for span in (turn, tool, *calls):
        assert span.trace_id == request.trace_id
    turn_attributes = _attributes(turn)
    assert turn_attributes["gen_ai.operation.name"] == "invoke_agent"
    assert turn_attributes["gen_ai.agent.name"] == AGENT
    assert turn_attributes["gen_ai.conversation.id"] == done.message.session_id
    assert turn_attributes["gen_ai.usage.input_tokens"] == done.input_tokens
    assert turn_attributes["gen_ai.usage.output_tokens"] == done.output_tokens
    tool_attributes = _attributes(tool)
    assert tool_attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool_attributes["gen_ai.tool.name"] == "current_time"
    assert tool.status.code != Status.STATUS_CODE_ERROR
    # the tool ran inside the turn, between its two model calls
    first, second = sorted(calls, key=lambda s: s.start_time_unix_nano)
    assert turn.start_time_unix_nano <= tool.start_time_unix_nano <= tool.end_time_unix_nano
    assert tool.end_time_unix_nano <= turn.end_time_unix_nano
    assert first.end_time_unix_nano <= tool.start_time_unix_nano
    assert tool.end_time_unix_nano <= second.end_time_unix_nano


async def test_a_failed_tool_call_is_an_error_span(settings: Settings) -> None:
    platform = Platform.build(settings.model_copy(update={"offline_token_delay_ms": 0}))
    await platform.start()
    try:
        await platform.agents.complete(
            admin(platform),
            TurnRequest(AGENT, '/tool recall {"limit": 3}'),  # no query
        )
    finally:
        await platform.stop()
    spans = list(platform.tracing.store.finished)
    [tool] = [s for s in spans if s.name == "execute_tool recall"]
    assert tool.status.is_ok is False
    assert (tool.attributes or {})["error.type"] == "INVALID_INPUT"
    [turn] = [s for s in spans if s.name == f"invoke_agent {AGENT}"]
    assert tool.parent is not None
    assert tool.parent.span_id == turn.context.span_id
    assert turn.parent is None  # no request here: the turn is the trace


async def test_a_sandbox_command_is_a_span(settings: Settings) -> None:
    platform = Platform.build(settings)
    await platform.start()
    try:
        service = platform.sandboxes
        sandbox = await service.create(ALICE, SandboxRequest(name="traced"))
        await service.start_sandbox(ALICE, sandbox.id)
        with platform.tracing.tracer.start_as_current_span("POST /exec") as request:
            result = await service.execute(ALICE, sandbox.id, "echo traced")
    finally:
        await platform.stop()
    assert result.exit_code == 0
    [span] = [s for s in platform.tracing.store.finished if s.name == "sandbox.exec"]
    attributes = dict(span.attributes or {})
    assert attributes["menagerie.sandbox.id"] == sandbox.id
    assert attributes["process.executable.name"] == "echo"
    assert attributes["process.exit.code"] == 0
    assert attributes["menagerie.sandbox.timed_out"] is False
    assert attributes["menagerie.tenant_id"] == "default"
    assert span.parent is not None
    assert span.parent.span_id == request.get_span_context().span_id
