"""Crazy Gary's MCP integration (`/api/mcp…`): tools by client, search, execute, status.

A "client" in Gary's words is one installed MCP server of the caller's tenant.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from menagerie.dialects.gary.deps import PlatformDep, PrincipalDep
from menagerie.dialects.gary.schemas.mcp import ExecuteIn, ExecuteOut, StatusOut, ToolOut
from menagerie.http.openapi import errors

router = APIRouter(prefix="/api/mcp", tags=["mcp"])


@router.get("/tools", response_model=list[ToolOut])
async def all_tools(platform: PlatformDep, principal: PrincipalDep) -> list[ToolOut]:
    return [ToolOut.of(t) for t in platform.mcp.cached_tools(principal.tenant_id)]


# declared before /tools/{client_name}, or "search" would be taken for a client's name
@router.get("/tools/search", response_model=list[ToolOut])
async def search_tools(
    platform: PlatformDep,
    principal: PrincipalDep,
    query: Annotated[str, Query(min_length=1, max_length=200)],
) -> list[ToolOut]:
    return [ToolOut.of(t) for t in platform.mcp.search_tools(principal, query)]


@router.get("/tools/{client_name}", response_model=list[ToolOut], responses=errors(404, 503))
async def client_tools(
    client_name: str, platform: PlatformDep, principal: PrincipalDep
) -> list[ToolOut]:
    return [ToolOut.of(t) for t in await platform.mcp.tools(principal, client_name)]


@router.post(
    "/execute",
    response_model=ExecuteOut,
    response_model_exclude_none=True,
    responses=errors(404, 503, 504),
)
async def execute(body: ExecuteIn, platform: PlatformDep, principal: PrincipalDep) -> ExecuteOut:
    result = await platform.mcp.execute(
        principal, body.client_name, body.tool_name, body.parameters
    )
    return ExecuteOut.of(result)


@router.get("/status", response_model=StatusOut)
async def status(platform: PlatformDep, principal: PrincipalDep) -> StatusOut:
    return StatusOut.of(platform.mcp.status(principal))
