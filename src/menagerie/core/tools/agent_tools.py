"""MCP tools offered to agents: an agent's tool list names servers or single tools.

`mcp:<server>` offers every tool of that installed server, `mcp:<server>/<tool>` one tool,
`mcp:*` (or `*`) every tool of every server the tenant runs. Models see them as
`<server>__<tool>`, the form every provider accepts as a function name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from menagerie.core.errors import MenagerieError, NotFound
from menagerie.core.llm.models import ToolSpec
from menagerie.core.tools.models import ToolInfo

if TYPE_CHECKING:
    from menagerie.core.agents.tools import ToolContext
    from menagerie.core.tools.service import ToolService

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def function_name(server: str, tool: str) -> str:
    return _UNSAFE.sub("_", f"{server}__{tool}")[:64]


def _allows(tool: ToolInfo, allowed: Sequence[str]) -> bool:
    for item in allowed:
        if item in ("*", "mcp:*", f"mcp:{tool.server}", f"mcp:{tool.server}/{tool.name}"):
            return True
    return False


class McpTools:
    def __init__(self, service: ToolService) -> None:
        self._service = service

    def _offered(self, tenant_id: str, allowed: Sequence[str]) -> list[ToolInfo]:
        if not any(item == "*" or item.startswith("mcp:") for item in allowed):
            return []
        return [t for t in self._service.cached_tools(tenant_id) if _allows(t, allowed)]

    def specs(self, tenant_id: str, allowed: Sequence[str]) -> Sequence[ToolSpec]:
        return [
            ToolSpec(
                function_name(tool.server, tool.name),
                f"[{tool.server}] {tool.description}"[:1024],
                tool.input_schema or {"type": "object", "properties": {}},
            )
            for tool in self._offered(tenant_id, allowed)
        ]

    async def call(self, name: str, arguments: dict[str, Any], context: ToolContext) -> str:
        tenant = context.principal.tenant_id
        tool = next(
            (
                t
                for t in self._service.cached_tools(tenant)
                if function_name(t.server, t.name) == name
            ),
            None,
        )
        if tool is None:
            raise NotFound(f"no MCP tool named {name!r} is running", reason="TOOL_NOT_FOUND")
        result = await self._service.execute(context.principal, tool.server, tool.name, arguments)
        output = json.dumps(result.content, ensure_ascii=False, default=str)
        if result.is_error:
            raise MenagerieError(output, reason="TOOL_EXECUTION_FAILED")
        return output
