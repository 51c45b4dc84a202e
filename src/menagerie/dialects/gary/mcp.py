"""Crazy Gary's MCP integration (`/api/mcp…`): tools by client, search, execute, status.

A "client" in Gary's words is one installed MCP server of the caller's tenant.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from menagerie.core.clock import iso
from menagerie.core.identity.models import Principal
from menagerie.core.tools.models import ToolInfo
from menagerie.http.deps import get_platform, require_principal
from menagerie.platform import Platform

router = APIRouter(prefix="/api/mcp", tags=["mcp"])
PlatformDep = Annotated[Platform, Depends(get_platform)]
PrincipalDep = Annotated[Principal, Depends(require_principal)]


class ExecuteIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    tool_name: str = Field(min_length=1, max_length=128)
    client_name: str = Field(min_length=1, max_length=128)
    parameters: dict[str, Any] = Field(default_factory=dict)


def tool_json(tool: ToolInfo) -> dict[str, Any]:
    return {
        "name": tool.name,
        "description": tool.description,
        "schema": tool.input_schema,
        "client": tool.server,
    }


@router.get("/tools")
async def all_tools(platform: PlatformDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    return [tool_json(t) for t in platform.mcp.cached_tools(principal.tenant_id)]


# declared before /tools/{client_name}, or "search" would be taken for a client's name
@router.get("/tools/search")
async def search_tools(
    platform: PlatformDep,
    principal: PrincipalDep,
    query: Annotated[str, Query(min_length=1, max_length=200)],
) -> list[dict[str, Any]]:
    terms = query.lower().split()
    return [
        tool_json(t)
        for t in platform.mcp.cached_tools(principal.tenant_id)
        if all(term in f"{t.name} {t.description} {t.server}".lower() for term in terms)
    ]


@router.get("/tools/{client_name}")
async def client_tools(
    client_name: str, platform: PlatformDep, principal: PrincipalDep
) -> list[dict[str, Any]]:
    return [tool_json(t) for t in await platform.mcp.tools(principal, client_name)]


@router.post("/execute")
async def execute(body: ExecuteIn, platform: PlatformDep, principal: PrincipalDep) -> Any:
    result = await platform.mcp.execute(
        principal, body.client_name, body.tool_name, body.parameters
    )
    answer: dict[str, Any] = {"result": result.content, "success": not result.is_error}
    if result.is_error:
        answer["error"] = "The tool reported an error"
    return answer


@router.get("/status")
async def status(platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    sessions = platform.mcp.sessions(principal.tenant_id)
    connected = [s.name for s in sessions if s.state == "running"]
    checks = [s.last_check for s in sessions if s.last_check is not None]
    if not sessions:
        overall = "idle"
    elif len(connected) == len(sessions):
        overall = "healthy"
    else:
        overall = "degraded" if connected else "unhealthy"
    return {
        "status": overall,
        "connected_clients": connected,
        "available_tools": sum(len(s.tools) for s in sessions if s.state == "running"),
        "last_health_check": iso(max(checks)) if checks else None,
    }
