"""The agent inside a sandbox: its chat session, and the tools that act in the sandbox.

Metamorph attaches an agent to a sandbox and chats with it; the agent's turn offers it
`sandbox_exec`, `sandbox_write_file` and `sandbox_read_file`, which run in the sandbox its chat
session is attached to, under that sandbox's allow-list and limits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from menagerie.core.agents.events import TurnDone
from menagerie.core.agents.runtime import AgentRuntime, TurnRequest
from menagerie.core.agents.tools import ToolContext
from menagerie.core.errors import Conflict, Invalid, NotFound
from menagerie.core.identity.models import Principal
from menagerie.core.llm.models import ToolSpec
from menagerie.core.sandboxes.models import AgentAttachment, FileWrite
from menagerie.core.sandboxes.service import SandboxService

SANDBOX_AGENT = "metamorph"


def _percent(config: dict[str, Any], key: str, default: int) -> int:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise Invalid(
            f"config.{key} must be a whole number from 0 to 100",
            field=f"config.{key}",
            received=value,
            expected="0-100",
        )
    return value


@dataclass(frozen=True, slots=True)
class SandboxReply:
    message: str
    user_message: str
    session_id: str
    sandbox_id: str
    done: TurnDone


class SandboxAgents:
    def __init__(self, sandboxes: SandboxService, runtime: AgentRuntime) -> None:
        self._sandboxes = sandboxes
        self._runtime = runtime

    async def attach(
        self, principal: Principal, sandbox_id: str, config: dict[str, Any]
    ) -> AgentAttachment:
        """Give the sandbox an agent (again: the same session, new settings)."""
        sandbox = await self._sandboxes.get(principal, sandbox_id)
        defaults = sandbox.agent_defaults
        proactive = config.get(
            "enableProactiveMemory", defaults.get("enableProactiveMemory", False)
        )
        if not isinstance(proactive, bool):
            raise Invalid(
                "config.enableProactiveMemory must be true or false",
                field="config.enableProactiveMemory",
                received=proactive,
                expected="boolean",
            )
        settings = {
            "intensity": _percent(config, "intensity", int(defaults.get("intensity", 50))),
            "coherenceFloor": _percent(config, "coherenceFloor", 30),
            "enableProactiveMemory": proactive,
        }
        session_id = sandbox.agent.session_id if sandbox.agent is not None else None
        if session_id is None:
            session = await self._runtime.chat.create_session(
                principal,
                SANDBOX_AGENT,
                title=f"Agent in {sandbox.name}",
                metadata={"sandbox_id": sandbox.id},
            )
            session_id = session.id
        return await self._sandboxes.attach(principal, sandbox_id, session_id, settings)

    async def chat(self, principal: Principal, sandbox_id: str, message: str) -> SandboxReply:
        sandbox = await self._sandboxes.get(principal, sandbox_id)
        if sandbox.agent is None:
            raise Conflict(
                "no agent is attached to this sandbox; attach one first", reason="INVALID_STATE"
            )
        agent = sandbox.agent
        done = await self._runtime.complete(
            principal,
            TurnRequest(
                agent=SANDBOX_AGENT,
                message=message,
                session_id=agent.session_id,
                create_session=False,
                context={
                    "sandbox": sandbox.name,
                    "sandbox_status": sandbox.status,
                    "working_directory": sandbox.config.working_directory,
                    "allowed_commands": list(sandbox.config.allowed_commands or ("any",)),
                    "intensity": agent.intensity,
                    "coherence_floor": agent.coherence_floor,
                    "proactive_memory": agent.enable_proactive_memory,
                },
            ),
        )
        return SandboxReply(done.message.content, message, agent.session_id, sandbox.id, done)


def _spec(name: str, description: str, properties: dict[str, Any], required: list[str]) -> ToolSpec:
    return ToolSpec(
        name,
        description,
        {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        },
    )


SPECS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        _spec(
            "sandbox_exec",
            "Run a command in your sandbox (no shell: one program and its arguments).",
            {
                "command": {"type": "string", "minLength": 1, "maxLength": 8192},
                "cwd": {"type": "string", "maxLength": 1024},
            },
            ["command"],
        ),
        _spec(
            "sandbox_write_file",
            "Write a text file in your sandbox, creating its directories.",
            {
                "path": {"type": "string", "minLength": 1, "maxLength": 1024},
                "content": {"type": "string", "maxLength": 1_000_000},
            },
            ["path", "content"],
        ),
        _spec(
            "sandbox_read_file",
            "Read a text file in your sandbox.",
            {"path": {"type": "string", "minLength": 1, "maxLength": 1024}},
            ["path"],
        ),
    )
}


class SandboxTools:
    """The sandbox tools as an agent tool source: they act in the session's sandbox."""

    def __init__(self, sandboxes: SandboxService) -> None:
        self._sandboxes = sandboxes

    def specs(self, tenant_id: str, allowed: Sequence[str]) -> Sequence[ToolSpec]:
        everything = "*" in allowed
        return [spec for name, spec in SPECS.items() if everything or name in allowed]

    async def call(self, name: str, arguments: dict[str, Any], context: ToolContext) -> str:
        sandbox = await self._sandboxes.by_agent_session(context.principal, context.session_id)
        if sandbox is None:
            raise NotFound("this conversation has no sandbox attached", reason="SANDBOX_NOT_FOUND")
        principal = context.principal
        if name == "sandbox_exec":
            result = await self._sandboxes.execute(
                principal, sandbox.id, arguments["command"], cwd=arguments.get("cwd")
            )
            return json.dumps(
                {
                    "exitCode": result.exit_code,
                    "stdout": result.stdout,
                    "stderr": result.stderr,
                    "timedOut": result.timed_out,
                    "truncated": result.truncated,
                }
            )
        if name == "sandbox_write_file":
            [written] = await self._sandboxes.write_files(
                principal, sandbox.id, [FileWrite(arguments["path"], arguments["content"])]
            )
            return json.dumps(
                {"path": written.path, "success": written.success, "error": written.error}
            )
        data = await self._sandboxes.read_file(principal, sandbox.id, arguments["path"])
        return data.decode("utf-8", errors="replace")
