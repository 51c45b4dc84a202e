"""The agent loop: one turn of a conversation with an agent, as a stream of events.

The user's message is stored before any model is called, so a failed call loses nothing.
The model sees the persona, the memories relevant to the message and the newest history
that fits its context window; tool calls are executed and fed back for a bounded number of
steps; the answer is stored with its model, tokens, cost and timing, and with it what the
user said mined for memories, reconciled with those already stored
(`core/memory/reconcile.py`). The storage is two transactions (`writes.py`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import NoOpTracer, Span, StatusCode, Tracer

from menagerie.core.agents import context
from menagerie.core.agents.definitions import AgentCatalog
from menagerie.core.agents.events import (
    AgentEvent,
    MemoryUpdate,
    TextChunk,
    ToolCallStarted,
    ToolResult,
    TurnDone,
    TurnStarted,
)
from menagerie.core.agents.models import AgentDefinition
from menagerie.core.agents.tools import Toolbox, ToolContext
from menagerie.core.agents.writes import Answer, TurnWrites
from menagerie.core.chat.models import MAX_MESSAGE_CHARS
from menagerie.core.chat.service import ChatService
from menagerie.core.errors import MenagerieError
from menagerie.core.identity.models import Principal
from menagerie.core.llm.catalog import ModelInfo
from menagerie.core.llm.errors import ProviderError
from menagerie.core.llm.models import (
    ChatMessage,
    StreamError,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
)
from menagerie.core.llm.router import CallOptions, Routed, Router
from menagerie.core.memory.service import MemoryService
from menagerie.core.ops.tracing import TENANT

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TurnRequest:
    agent: str
    message: str | None = None  # None: answer the newest user message already in the session
    session_id: str | None = None  # None: start a new session
    create_session: bool = True  # False: an unknown session_id is SESSION_NOT_FOUND
    reply_to_id: str | None = None
    model: str | None = None  # overrides the agent's preferred model
    model_is_preference: bool = False  # True: a model that cannot be called is passed over
    context: dict[str, Any] = field(default_factory=dict)  # the client's, for the system prompt
    session_metadata: dict[str, Any] = field(default_factory=dict)
    message_metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Tally:
    model: ModelInfo
    provider: str
    input_tokens: int = 0
    output_tokens: int = 0
    steps: int = 0
    text: list[str] = field(default_factory=list)


class AgentRuntime:
    def __init__(
        self,
        catalog: AgentCatalog,
        chat: ChatService,
        memory: MemoryService,
        router: Router,
        toolbox: Toolbox,
        tracer: Tracer | None = None,
    ) -> None:
        self.catalog = catalog
        self.chat = chat
        self.memory = memory
        self.router = router
        self.toolbox = toolbox
        self.tracer: Tracer = tracer or NoOpTracer()
        self.writes = TurnWrites(chat, memory, router)

    async def complete(self, principal: Principal, request: TurnRequest) -> TurnDone:
        """Run a turn to its end and return how it ended (non-streaming callers)."""
        done: TurnDone | None = None
        async for event in self.run(principal, request):
            if isinstance(event, TurnDone):
                done = event
        assert done is not None
        return done

    async def run(self, principal: Principal, request: TurnRequest) -> AsyncIterator[AgentEvent]:
        """The turn as an `invoke_agent` span, a child of the current one (the request's):
        current while the turn works, so its model and tool calls are its children, and not
        while the caller handles an event."""
        span = self.tracer.start_span(
            f"invoke_agent {request.agent}",
            attributes={
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": request.agent,
                TENANT: principal.tenant_id,
            },
        )
        events = self._turn(principal, request)
        try:
            while True:
                with trace.use_span(span, record_exception=False, set_status_on_exception=False):
                    try:
                        event = await anext(events)
                    except StopAsyncIteration:
                        break
                _describe(span, event)
                yield event
        except Exception as error:
            span.record_exception(error)
            span.set_status(StatusCode.ERROR, type(error).__name__)
            raise
        finally:
            await events.aclose()
            span.end()

    async def _turn(
        self, principal: Principal, request: TurnRequest
    ) -> AsyncGenerator[AgentEvent, None]:
        agent = self.catalog.get(request.agent)
        opened = await self.writes.open(principal, agent, request)
        session, user_message, question = opened.session, opened.message, opened.question
        model = self._model(request, agent)
        system_prompt = "\n\n".join(
            part
            for part in (
                self.catalog.system_prompt(agent),
                context.client_context(request.context),
                context.memory_section(opened.recalled),
            )
            if part
        )
        # a model whose chat format has no tools (the small local one) answers without them,
        # rather than being refused for the agent's tools it could never call
        tools = self.toolbox.specs(agent.tools, principal.tenant_id) if model.has(["tools"]) else []
        messages = context.window(
            opened.history, model=model, system_prompt=system_prompt, tools=tools
        )
        # everything that can refuse the turn has run: what follows is the answer
        yield TurnStarted(session.id, agent.name, user_message)

        started = time.perf_counter()
        tally = _Tally(model, model.provider)
        tool_context = ToolContext(principal, agent.name, session.id)
        for step in range(agent.max_tool_steps + 1):
            # the last step offers no tools, so the model has to answer
            offered = tuple(tools) if step < agent.max_tool_steps else ()
            calls: list[ToolCall] = []
            step_text: list[str] = []
            async for event in self._call_model(principal, messages, tally, offered, agent):
                if isinstance(event, TextDelta):
                    step_text.append(event.text)
                    yield TextChunk(event.text)
                else:
                    calls.append(event)
            tally.text.extend(step_text)
            if not calls:
                break
            messages.append(ChatMessage("assistant", "".join(step_text), tuple(calls)))
            for call in calls:
                arguments = _arguments(call.arguments)
                yield ToolCallStarted(call.id, call.name, arguments)
                outcome = await self.toolbox.call(
                    call.name, call.arguments, tool_context, agent.tools
                )
                yield ToolResult(call.id, call.name, outcome.output, outcome.is_error)
                await self.chat.add_message(
                    principal,
                    session.id,
                    "tool",
                    outcome.output[:MAX_MESSAGE_CHARS] or "(no output)",
                    reply_to_id=question.id,
                    metadata={
                        "tool": call.name,
                        "call_id": call.id,
                        "arguments": arguments,
                        "is_error": outcome.is_error,
                    },
                )
                messages.append(ChatMessage("tool", outcome.output, (), call.id, call.name))

        latency_ms = (time.perf_counter() - started) * 1000
        cost = tally.model.cost(tally.input_tokens, tally.output_tokens)
        answer, remembered = await self.writes.close(
            principal,
            agent,
            opened,
            Answer(
                "".join(tally.text),
                tally.model.model_id,
                tally.provider,
                tally.input_tokens,
                tally.output_tokens,
                cost,
                latency_ms,
                tally.steps,
            ),
        )
        for memory in remembered:
            yield MemoryUpdate(memory)
        yield TurnDone(
            answer,
            tally.model.model_id,
            tally.provider,
            tally.input_tokens,
            tally.output_tokens,
            cost,
            latency_ms,
            tally.steps,
            tuple(remembered),
        )

    def _model(self, request: TurnRequest, agent: AgentDefinition) -> ModelInfo:
        if request.model:
            try:
                return self.router.resolve(request.model)
            except MenagerieError:
                if not request.model_is_preference:
                    raise
                log.info("preferred model %s cannot be called; using the default", request.model)
        if agent.model:
            return self.router.resolve(agent.model)
        return self.router.chain()[0]

    async def _call_model(
        self,
        principal: Principal,
        messages: list[ChatMessage],
        tally: _Tally,
        tools: tuple[Any, ...],
        agent: AgentDefinition,
    ) -> AsyncIterator[TextDelta | ToolCall]:
        tally.steps += 1
        options = CallOptions(temperature=agent.temperature, tools=tools)
        stream = self.router.stream(
            messages,
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            model_id=tally.model.model_id,
            options=options,
        )
        async for event in stream:
            if isinstance(event, Routed):
                tally.model = self.router.resolve(event.model_id)
                tally.provider = event.provider
            elif isinstance(event, TextDelta):
                yield event
            elif isinstance(event, ToolCallEvent):
                yield event.call
            elif isinstance(event, Usage):
                tally.input_tokens += event.input_tokens
                tally.output_tokens += event.output_tokens
            elif isinstance(event, StreamError):
                raise ProviderError(
                    event.message,
                    provider=tally.provider,
                    retryable=event.retryable,
                    reason=event.code,
                )


def _describe(span: Span, event: AgentEvent) -> None:
    """What the turn's events tell its span: the session, and at the end the token totals."""
    if isinstance(event, TurnStarted):
        span.set_attribute("gen_ai.agent.name", event.agent)
        span.set_attribute("gen_ai.conversation.id", event.session_id)
    elif isinstance(event, TurnDone):
        span.set_attribute("gen_ai.response.model", event.model)
        span.set_attribute("gen_ai.usage.input_tokens", event.input_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", event.output_tokens)


def _arguments(raw: str) -> dict[str, Any]:
    try:
        parsed = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {"_raw": raw}
    return parsed if isinstance(parsed, dict) else {"_value": parsed}
