"""Tools an agent may call during a turn, behind one interface.

The built-in tools need nothing outside Menagerie (the time, the caller's memories); MCP
servers add theirs through another `ToolSource`. Arguments are validated against the tool's
JSON schema before it runs, so a model's malformed call is answered with a clear error the
model can correct, never an exception inside a tool.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from opentelemetry.trace import NoOpTracer, StatusCode, Tracer

from menagerie.core.clock import utcnow
from menagerie.core.errors import Invalid, MenagerieError, NotFound
from menagerie.core.identity.models import Principal
from menagerie.core.llm.models import ToolSpec
from menagerie.core.memory.models import MemoryDraft
from menagerie.core.memory.service import MemoryService
from menagerie.core.ops.tracing import TENANT
from menagerie.core.tools.arguments import validate_arguments

log = logging.getLogger(__name__)

TOOL_OUTPUT_LIMIT = 16_000  # characters of a tool's output fed back to the model


@dataclass(frozen=True, slots=True)
class ToolContext:
    principal: Principal
    agent: str
    session_id: str


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    output: str
    is_error: bool = False


class ToolSource(Protocol):
    def specs(self, tenant_id: str, allowed: Sequence[str]) -> Sequence[ToolSpec]:
        """The tools of this source that `allowed` (an agent's tool list) lets the agent call."""
        ...

    async def call(self, name: str, arguments: dict[str, Any], context: ToolContext) -> str: ...


Handler = Callable[[dict[str, Any], ToolContext], Awaitable[str]]


class BuiltinTools:
    """Tools every agent can have without installing anything."""

    def __init__(self, memory: MemoryService) -> None:
        self._memory = memory
        self._tools: dict[str, tuple[ToolSpec, Handler]] = {
            "current_time": (
                ToolSpec(
                    "current_time",
                    "The current date and time in UTC, ISO 8601.",
                    {"type": "object", "properties": {}, "additionalProperties": False},
                ),
                self._current_time,
            ),
            "remember": (
                ToolSpec(
                    "remember",
                    "Save a fact or preference about the user for later conversations.",
                    {
                        "type": "object",
                        "properties": {
                            "content": {"type": "string", "minLength": 1, "maxLength": 2000},
                            "category": {"type": "string", "minLength": 1, "maxLength": 64},
                            "key": {"type": "string", "maxLength": 128},
                            "importance": {"type": "number", "minimum": 0, "maximum": 1},
                        },
                        "required": ["content"],
                        "additionalProperties": False,
                    },
                ),
                self._remember,
            ),
            "recall": (
                ToolSpec(
                    "recall",
                    "Search what is remembered about the user.",
                    {
                        "type": "object",
                        "properties": {
                            "query": {"type": "string", "maxLength": 500},
                            "limit": {"type": "integer", "minimum": 1, "maximum": 20},
                        },
                        "required": ["query"],
                        "additionalProperties": False,
                    },
                ),
                self._recall,
            ),
        }

    def specs(self, tenant_id: str, allowed: Sequence[str]) -> Sequence[ToolSpec]:
        everything = "*" in allowed
        return [spec for name, (spec, _) in self._tools.items() if everything or name in allowed]

    async def call(self, name: str, arguments: dict[str, Any], context: ToolContext) -> str:
        _, handler = self._tools[name]
        return await handler(arguments, context)

    async def _current_time(self, arguments: dict[str, Any], context: ToolContext) -> str:
        return utcnow().isoformat(timespec="seconds").replace("+00:00", "Z")

    async def _remember(self, arguments: dict[str, Any], context: ToolContext) -> str:
        memory = await self._memory.save(
            context.principal,
            MemoryDraft(
                category=arguments.get("category") or "facts",
                content=arguments["content"],
                key=arguments.get("key") or None,
                importance=arguments.get("importance", 0.6),
                agent_id=context.agent,
                context="saved by the agent with the remember tool",
            ),
        )
        return json.dumps({"saved": memory.id, "category": memory.category})

    async def _recall(self, arguments: dict[str, Any], context: ToolContext) -> str:
        found = await self._memory.search(
            context.principal, arguments["query"], limit=arguments.get("limit", 5)
        )
        return json.dumps(
            [{"content": hit.memory.content, "category": hit.memory.category} for hit in found]
        )


class Toolbox:
    """Every tool source, filtered by what an agent is allowed to call."""

    def __init__(
        self,
        sources: Iterable[ToolSource],
        *,
        timeout_s: float = 30.0,
        tracer: Tracer | None = None,
    ) -> None:
        self._sources = list(sources)
        self._timeout_s = timeout_s
        self.tracer: Tracer = tracer or NoOpTracer()

    def add(self, source: ToolSource) -> None:
        self._sources.append(source)

    def specs(self, allowed: Sequence[str], tenant_id: str) -> list[ToolSpec]:
        if not allowed:
            return []
        seen: set[str] = set()
        specs = []
        for source in self._sources:
            for spec in source.specs(tenant_id, allowed):
                if spec.name not in seen:
                    seen.add(spec.name)
                    specs.append(spec)
        return specs

    async def call(
        self, name: str, raw_arguments: str, context: ToolContext, allowed: Sequence[str]
    ) -> ToolOutcome:
        """Run one tool call; every failure becomes an error outcome the model can read.

        The call is an `execute_tool` span, a child of the current one (the agent's turn)."""
        with self.tracer.start_as_current_span(
            f"execute_tool {name}",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": name,
                "gen_ai.agent.name": context.agent,
                TENANT: context.principal.tenant_id,
            },
        ) as span:
            outcome = await self._call(name, raw_arguments, context, allowed)
            if outcome.is_error:
                reason = _error_type(outcome.output)
                span.set_attribute("error.type", reason)
                span.set_status(StatusCode.ERROR, reason)
        return outcome

    async def _call(
        self, name: str, raw_arguments: str, context: ToolContext, allowed: Sequence[str]
    ) -> ToolOutcome:
        try:
            source, spec = self._find(name, allowed, context.principal.tenant_id)
            arguments = _parse_arguments(raw_arguments)
            validate_arguments(spec.name, spec.parameters, arguments)
            output = await asyncio.wait_for(
                source.call(name, arguments, context), timeout=self._timeout_s
            )
        except MenagerieError as error:
            return ToolOutcome(json.dumps({"error": error.reason, "message": error.message}), True)
        except TimeoutError:
            message = f"tool {name} took longer than {self._timeout_s:g}s"
            return ToolOutcome(json.dumps({"error": "TOOL_TIMEOUT", "message": message}), True)
        except Exception:
            # a fault in a tool is that call's failure, told to the model, not the turn's end;
            # its details stay in the log
            log.exception("tool %s failed unexpectedly", name)
            message = f"tool {name} failed unexpectedly"
            return ToolOutcome(json.dumps({"error": "TOOL_FAILED", "message": message}), True)
        return ToolOutcome(_clip(output))

    def _find(
        self, name: str, allowed: Sequence[str], tenant_id: str
    ) -> tuple[ToolSource, ToolSpec]:
        for source in self._sources:
            for spec in source.specs(tenant_id, allowed):
                if spec.name == name:
                    return source, spec
        raise NotFound(
            f"no tool named {name!r} is available to this agent", reason="TOOL_NOT_FOUND"
        )


def _error_type(output: str) -> str:
    """The reason an error outcome names (`TOOL_TIMEOUT` …), for its span's status."""
    try:
        reason = json.loads(output).get("error")
    except (ValueError, AttributeError):
        reason = None
    return reason if isinstance(reason, str) else "error"


def _parse_arguments(raw: str) -> dict[str, Any]:
    try:
        arguments = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise Invalid(
            f"tool arguments are not JSON: {exc.msg}", field="arguments", expected="a JSON object"
        ) from None
    if not isinstance(arguments, dict):
        raise Invalid("tool arguments must be a JSON object", field="arguments")
    return arguments


def _clip(output: str) -> str:
    if len(output) <= TOOL_OUTPUT_LIMIT:
        return output
    return output[:TOOL_OUTPUT_LIMIT] + f"\n[… {len(output) - TOOL_OUTPUT_LIMIT} characters cut]"
