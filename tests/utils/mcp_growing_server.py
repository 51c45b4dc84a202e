"""A real MCP server (the official SDK's MCPServer, over stdio) whose tool list grows.

`grow(name)` adds a tool called `name` and announces it: as a tools-list-changed event on
`subscriptions/listen` streams (protocol 2026-07-28) and as `notifications/tools/list_changed`
(earlier versions), so a client that listens sees the new tool without asking again.
"""

from __future__ import annotations

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("growing")


@server.tool()
async def grow(name: str, ctx: Context) -> str:
    """Add a tool called `name`, then tell the client that the tool list changed."""

    def grown() -> str:
        return f"I am {name}"

    server.add_tool(grown, name=name, description=f"a tool grown at run time: {name}")
    await ctx.notify_tools_changed()  # 2026-07-28: to `subscriptions/listen` streams
    await ctx.request_context.session.send_tool_list_changed()  # earlier protocol versions
    return f"added {name}"


if __name__ == "__main__":
    server.run()
