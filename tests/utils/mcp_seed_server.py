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
from typing import Annotated, Literal, TypedDict

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field

server = MCPServer("seed-github")
ORGANIZATION = os.environ.get("GITHUB_ORG", "your-org")


class Repository(TypedDict):
    repository_url: str
    clone_url: str
    repository_id: int


class Repositories(TypedDict):
    repositories: list[str]


# nested results as models: pydantic reads nested TypedDicts only from typing_extensions
class Match(BaseModel):
    line: int
    content: str


class File(BaseModel):
    path: str
    matches: list[Match]


class CodeSearch(BaseModel):
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
def search_code(
    query: Annotated[str, Field(description="Search query")],
    repository: Annotated[str, Field(description="Repository URL or path")] = "",
) -> CodeSearch:
    """Search through code repositories"""
    content = "password = input('Password: ')  # Security issue: no validation"
    found = File(path="src/auth.py", matches=[Match(line=45, content=content)])
    return CodeSearch(files=[found])


@server.tool()
async def slow_operation(seconds: float) -> str:
    """Wait `seconds`, then answer: a call that outlasts a short timeout"""
    await asyncio.sleep(seconds)
    return f"waited {seconds}s"


if __name__ == "__main__":
    server.run()
