"""A real MCP server (the official SDK's MCPServer, over stdio) with the tools the seeds show.

PodPlay's seed installs `github-mcp` and calls `create_repository`; Crazy Gary's calls
`search_code` on its `github` client. This server answers both the way the seeds' examples
do, without reaching GitHub, so that the examples replay against a real MCP session. Run it
with `python -P` (its folder holds `tests/utils/http.py`, which would shadow the stdlib).
"""

from __future__ import annotations

import asyncio
import os
import zlib
from typing import Literal, TypedDict

from mcp.server.mcpserver import MCPServer

server = MCPServer("seed-github")
ORGANIZATION = os.environ.get("GITHUB_ORG", "your-org")


class Repository(TypedDict):
    repository_url: str
    clone_url: str
    repository_id: int


class Repositories(TypedDict):
    repositories: list[str]


class Match(TypedDict):
    line: int
    content: str


class File(TypedDict):
    path: str
    matches: list[Match]


class CodeSearch(TypedDict):
    files: list[File]


@server.tool()
def create_repository(name: str, description: str = "", private: bool = False) -> Repository:
    """Create a new GitHub repository"""
    return {
        "repository_url": f"https://github.com/{ORGANIZATION}/{name}",
        "clone_url": f"git@github.com:{ORGANIZATION}/{name}.git",
        "repository_id": zlib.crc32(name.encode()),
    }


@server.tool()
def list_repositories(type: Literal["all", "owner", "member"] = "all") -> Repositories:
    """List user repositories"""
    return {"repositories": [f"{ORGANIZATION}/menagerie"]}


@server.tool()
def search_code(query: str, repository: str = "") -> CodeSearch:
    """Search through code repositories"""
    content = "password = input('Password: ')  # Security issue: no validation"
    return {"files": [{"path": "src/auth.py", "matches": [{"line": 45, "content": content}]}]}


@server.tool()
async def slow_operation(seconds: float) -> str:
    """Wait `seconds`, then answer: a call that outlasts a short timeout"""
    await asyncio.sleep(seconds)
    return f"waited {seconds}s"


if __name__ == "__main__":
    server.run()
