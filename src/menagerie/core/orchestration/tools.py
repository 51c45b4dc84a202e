"""The tools an orchestration's steps name: built-in ones (`code_analyzer`,
`report_generator`) and every tool of the caller's installed MCP servers as
`mcp:<server>/<tool>`.

A tool checks its parameters in `prepare` before anything runs (and may pin what it resolved,
a workspace, the step whose result it reads), then `run`s with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from menagerie.core.errors import Invalid, MenagerieError, NotFound
from menagerie.core.identity.models import Principal
from menagerie.core.orchestration.models import ToolCall, ToolDescription, ToolParameter
from menagerie.core.tools.arguments import validate_arguments
from menagerie.core.tools.models import ToolInfo
from menagerie.core.tools.service import ToolService

MCP_PREFIX = "mcp:"


class ToolFailed(MenagerieError):
    """The tool ran and failed: the step fails with this, the orchestration says which."""

    reason = "TOOL_FAILED"


class Tool(Protocol):
    description: ToolDescription

    async def prepare(
        self,
        principal: Principal,
        parameters: dict[str, Any],
        *,
        step: int | None,
        earlier: Sequence[int],
    ) -> dict[str, Any]:
        """The parameters to run with, or `Invalid` naming the parameter at fault.
        `earlier`: the numbers of the steps before this one (none when run on its own)."""
        ...

    def after(self, parameters: dict[str, Any]) -> tuple[int, ...]:
        """Steps whose results this one reads: it waits for them, also when run in parallel."""
        ...

    async def run(self, call: ToolCall) -> Any: ...


def schema_of(parameters: Sequence[ToolParameter]) -> dict[str, Any]:
    """The JSON Schema of a built-in tool's parameters; unknown names are refused."""
    properties: dict[str, Any] = {}
    for parameter in parameters:
        prop: dict[str, Any] = {"type": parameter.type}
        if parameter.enum is not None:
            prop["enum"] = list(parameter.enum)
        if parameter.type == "integer":
            prop["minimum"] = 1
        properties[parameter.name] = prop
    return {
        "type": "object",
        "properties": properties,
        "required": [p.name for p in parameters if p.required],
        "additionalProperties": False,
    }


def check(description: ToolDescription, parameters: dict[str, Any]) -> None:
    validate_arguments(description.name, schema_of(description.parameters), parameters)


def parameters_of(schema: dict[str, Any]) -> tuple[ToolParameter, ...]:
    """An MCP tool's input schema as the seed's parameter list."""
    required = set(schema.get("required") or [])
    found = []
    for name, prop in (schema.get("properties") or {}).items():
        prop = prop if isinstance(prop, dict) else {}
        kind = prop.get("type", "string")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "string")
        enum = prop.get("enum")
        found.append(
            ToolParameter(
                name=str(name),
                type=str(kind),
                description=str(prop.get("description") or prop.get("title") or ""),
                required=name in required,
                enum=tuple(str(e) for e in enum) if isinstance(enum, list) else None,
            )
        )
    return tuple(found)


class McpTool:
    """One tool of an installed MCP server, called through the platform's MCP service."""

    def __init__(self, mcp: ToolService, info: ToolInfo) -> None:
        self._mcp = mcp
        self.info = info
        self.description = ToolDescription(
            name=f"{MCP_PREFIX}{info.server}/{info.name}",
            title=f"{info.server}/{info.name}",
            description=info.description,
            category="mcp",
            parameters=parameters_of(info.input_schema or {}),
        )

    async def prepare(
        self,
        principal: Principal,
        parameters: dict[str, Any],
        *,
        step: int | None,
        earlier: Sequence[int],
    ) -> dict[str, Any]:
        validate_arguments(self.description.name, self.info.input_schema or {}, parameters)
        return parameters

    def after(self, parameters: dict[str, Any]) -> tuple[int, ...]:
        return ()

    async def run(self, call: ToolCall) -> Any:
        result = await self._mcp.execute(
            call.principal, self.info.server, self.info.name, call.parameters
        )
        if result.is_error:
            raise ToolFailed(
                f"{self.description.name} answered an error: {str(result.content)[:500]}",
                details={"content": result.content},
            )
        return {
            "server": result.server,
            "tool": result.tool,
            "content": result.content,
            "duration_ms": round(result.duration_ms, 3),
        }


class ToolRegistry:
    def __init__(self, builtin: Sequence[Tool], mcp: ToolService) -> None:
        self._builtin = {tool.description.name: tool for tool in builtin}
        self._mcp = mcp

    def listed(self, principal: Principal | None) -> list[ToolDescription]:
        """The built-in tools, and the caller's running MCP servers' tools (no I/O)."""
        found = [tool.description for tool in self._builtin.values()]
        if principal is not None:
            for info in self._mcp.cached_tools(principal.tenant_id):
                found.append(McpTool(self._mcp, info).description)
        return found

    async def named(self, principal: Principal, name: str, *, field: str = "tool") -> Tool:
        """The tool, or `Invalid` (UNKNOWN_TOOL) naming `field`."""
        if not isinstance(name, str):
            raise Invalid("tool must be a tool's name", field=field, reason="UNKNOWN_TOOL")
        tool = self._builtin.get(name)
        if tool is not None:
            return tool
        if name.startswith(MCP_PREFIX) and "/" in name:
            server, _, tool_name = name[len(MCP_PREFIX) :].partition("/")
            try:
                infos = await self._mcp.tools(principal, server)
            except NotFound:
                infos = []
            for info in infos:
                if info.name == tool_name:
                    return McpTool(self._mcp, info)
        known = ", ".join(self._builtin)
        raise Invalid(
            f"unknown tool {name!r}: one of {known} or mcp:<server>/<tool> of an installed server",
            field=field,
            received=name,
            expected=f"{known} | mcp:<server>/<tool>",
            reason="UNKNOWN_TOOL",
        )
