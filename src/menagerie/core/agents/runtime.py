"""The agent loop: one turn of a conversation with an agent, as a stream of events.

The user's message is stored before any model is called, so a failed call loses nothing.
The model sees the persona, the memories relevant to the message and the newest history
that fits its context window; tool calls are executed and fed back for a bounded number of
steps; the answer is stored with its model, tokens, cost and timing; then what the user said
is mined for memories, reconciled with those already stored (`core/memory/reconcile.py`).
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

from menagerie.core.agents import context, extraction
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
from menagerie.core.chat.models import MAX_MESSAGE_CHARS, ChatSession, Message
from menagerie.core.chat.service import ChatService
from menagerie.core.errors import Invalid, MenagerieError
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
from menagerie.core.memory import reconcile
from menagerie.core.memory.models import Memory, ScoredMemory
from menagerie.core.memory.service import MemoryService
from menagerie.core.ops.tracing import TENANT

log = logging.getLogger(__name__)

HISTORY_READ = 200  # newest messages read to fill the context window: never the whole session


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
        session = await self._session(principal, agent, request)
        user_message = None
        if request.message is not None:
            user_message = await self.chat.add_message(
                principal,
                session.id,
                "user",
                request.message,
                reply_to_id=request.reply_to_id,
                metadata=request.message_metadata,
            )
        history = await self.chat.recent(principal, session.id, HISTORY_READ)
        question = _question(history, user_message, request.reply_to_id)
        recalled = await self._recall(principal, agent, question.content)
        model = self._model(request, agent)
        system_prompt = "\n\n".join(
            part
            for part in (
                self.catalog.system_prompt(agent),
                context.client_context(request.context),
                context.memory_section(recalled),
            )
            if part
        )
        # a model whose chat format has no tools (the small local one) answers without them,
        # rather than being refused for the agent's tools it could never call
        tools = self.toolbox.specs(agent.tools, principal.tenant_id) if model.has(["tools"]) else []
        messages = context.window(history, model=model, system_prompt=system_prompt, tools=tools)
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
        answer = await self._store_answer(principal, session, question, tally, cost, latency_ms)
        remembered: list[Memory] = []
        if agent.memory.enabled and agent.memory.extract:
            # the message answered, posted with this turn or before it (keys make it idempotent)
            remembered = await self._remember(principal, agent, session, question, tally)
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

    async def _session(
        self, principal: Principal, agent: AgentDefinition, request: TurnRequest
    ) -> ChatSession:
        if request.session_id is None:
            return await self.chat.create_session(
                principal, agent.name, metadata=request.session_metadata
            )
        if request.create_session:
            return await self.chat.get_or_create_session(
                principal, request.session_id, agent.name, metadata=request.session_metadata
            )
        return await self.chat.get_session(principal, request.session_id)

    async def _recall(
        self, principal: Principal, agent: AgentDefinition, text: str
    ) -> list[ScoredMemory]:
        if not agent.memory.enabled or agent.memory.recall_limit <= 0:
            return []
        hits = await self.memory.search(principal, text, limit=agent.memory.recall_limit)
        if agent.memory.categories:
            hits = [hit for hit in hits if hit.memory.category in agent.memory.categories]
        return hits

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

    async def _store_answer(
        self,
        principal: Principal,
        session: ChatSession,
        question: Message,
        tally: _Tally,
        cost: float,
        latency_ms: float,
    ) -> Message:
        text = "".join(tally.text).strip() or "(the model gave no answer)"
        # an answer past the message limit is stored in full, over several messages
        parts = [text[i : i + MAX_MESSAGE_CHARS] for i in range(0, len(text), MAX_MESSAGE_CHARS)]
        stored: Message | None = None
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            stored = await self.chat.add_message(
                principal,
                session.id,
                "agent",
                part,
                reply_to_id=question.id,
                model=tally.model.model_id,
                input_tokens=tally.input_tokens if last else 0,
                output_tokens=tally.output_tokens if last else 0,
                cost=cost if last else 0.0,
                latency_ms=latency_ms if last else None,
                metadata={"provider": tally.provider, "steps": tally.steps},
            )
        assert stored is not None
        return stored

    async def _remember(
        self,
        principal: Principal,
        agent: AgentDefinition,
        session: ChatSession,
        said: Message,
        tally: _Tally,
    ) -> list[Memory]:
        drafts = await extraction.extract(
            self.router,
            said.content,
            provider=tally.provider,
            model_id=tally.model.model_id,
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
        )
        drafts = [draft.model_copy(update={"agent_id": agent.name}) for draft in drafts]
        try:
            # against what the user's memory holds: added, updated, deleted or already known
            decisions = await reconcile.reconcile(
                self.memory,
                principal,
                drafts,
                router=self.router,
                provider=tally.provider,
                model_id=tally.model.model_id,
            )
        except Exception:  # the turn never fails for it: the facts are saved as they are
            log.exception("memory reconciliation failed for session %s", session.id)
            decisions = [reconcile.Decision(reconcile.Action.ADD, draft) for draft in drafts]
        return await reconcile.apply(self.memory, principal, decisions)


def _describe(span: Span, event: AgentEvent) -> None:
    """What the turn's events tell its span: the session, and at the end the token totals."""
    if isinstance(event, TurnStarted):
        span.set_attribute("gen_ai.agent.name", event.agent)
        span.set_attribute("gen_ai.conversation.id", event.session_id)
    elif isinstance(event, TurnDone):
        span.set_attribute("gen_ai.response.model", event.model)
        span.set_attribute("gen_ai.usage.input_tokens", event.input_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", event.output_tokens)


def _question(history: list[Message], stored: Message | None, reply_to_id: str | None) -> Message:
    """The message this turn answers."""
    if stored is not None:
        return stored
    for message in reversed(history):
        if message.role == "user" and (reply_to_id is None or message.id == reply_to_id):
            return message
    if reply_to_id is not None:
        raise Invalid(
            "replyToId names no user message among the session's recent messages",
            field="replyToId",
            received=reply_to_id,
        )
    raise Invalid(
        "the session holds no user message to answer; post one first",
        field="message",
        reason="NO_USER_MESSAGE",
    )


def _arguments(raw: str) -> dict[str, Any]:
    try:
        parsed = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {"_raw": raw}
    return parsed if isinstance(parsed, dict) else {"_value": parsed}
