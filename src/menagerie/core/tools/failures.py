"""What a failed MCP call says: the server is offline, or it refused the call."""

from __future__ import annotations

from mcp.shared.exceptions import MCPError

from menagerie.core.errors import Invalid, Unavailable


def offline_error(name: str, reason: str | None) -> Unavailable:
    return Unavailable(
        f"MCP server {name} is offline" + (f": {reason}" if reason else ""),
        service=name,
        reason="MCP_SERVER_OFFLINE",
    )


def tool_error(name: str, exc: MCPError) -> Invalid:
    return Invalid(
        f"MCP server {name} refused the call: {exc.error.message}",
        reason="TOOL_EXECUTION_FAILED",
        details={"mcp_error_code": exc.code},
    )
