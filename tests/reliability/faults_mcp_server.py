"""A real MCP server (the official SDK's MCPServer, over stdio) for the fault tests.

`ping` answers at once; `hang` marks that it started (a file `hanging` in its HOME, which is
its installation's working directory) and then waits, so that a test can kill the server while
the call is in flight. Run it with `python -P` (its folder's neighbours must not shadow the
standard library).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from mcp.server.mcpserver import MCPServer

server = MCPServer("faults")


@server.tool()
def ping() -> str:
    """Answer pong."""
    return "pong"


@server.tool()
async def hang(seconds: float = 600.0) -> str:
    """Say that the call began, then wait `seconds` before answering."""
    Path(os.environ.get("HOME", "."), "hanging").write_text(str(os.getpid()))
    await asyncio.sleep(seconds)
    return "woke up"


if __name__ == "__main__":
    server.run()
