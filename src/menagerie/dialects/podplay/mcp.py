"""PodPlay's MCP marketplace (`/api/mcp…`): search, install, configure, run tools.

Import and export of Claude Desktop / VS Code configurations are Menagerie's additions, under
the same prefix.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from menagerie.core.clock import iso, utcnow
from menagerie.core.identity.models import Principal
from menagerie.core.tools.models import CatalogEntry, CatalogQuery, Installation, ToolInfo
from menagerie.core.tools.portability import ExportFormat, export_servers, import_servers
from menagerie.http.deps import get_platform, require_principal
from menagerie.platform import Platform

router = APIRouter(prefix="/api/mcp", tags=["mcp"])
PlatformDep = Annotated[Platform, Depends(get_platform)]
PrincipalDep = Annotated[Principal, Depends(require_principal)]
ServerName = Annotated[str, Field(min_length=1, max_length=128)]
Configuration = Annotated[dict[str, Any], Field(max_length=100)]


class InstallBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    server_name: ServerName
    configuration: Configuration = Field(default_factory=dict)
    auto_start: bool = True


class ConfigureBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    configuration: Configuration
    restart: bool = Field(False, description="restart a running server with it right away")


class ExecuteBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    tool_name: Annotated[str, Field(min_length=1, max_length=128)]
    parameters: dict[str, Any] = Field(default_factory=dict)
    timeout: float | None = Field(None, gt=0, le=600, description="seconds")


class ImportBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    configuration: dict[str, Any] = Field(
        description="a Claude Desktop or VS Code MCP configuration, as its JSON file holds it"
    )
    auto_start: bool = True


def server_json(entry: CatalogEntry, installed: set[str]) -> dict[str, Any]:
    return {
        "name": entry.name,
        "description": entry.description,
        "category": entry.category,
        "author": entry.author,
        "version": entry.version,
        "repository_url": entry.repository_url,
        "popularity_score": entry.popularity,
        "download_count": entry.downloads,
        "is_official": entry.official,
        "is_installed": entry.name in installed,
        "capabilities": list(entry.capabilities),
        "dependencies": list(entry.dependencies),
        "installation_method": entry.installation_method,
        "configuration_schema": entry.configuration_schema,
        "tags": list(entry.tags),
        "last_updated": iso(entry.last_updated) if entry.last_updated else None,
    }


def uptime_text(seconds: float) -> str:
    minutes = int(seconds) // 60
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes}m" if hours else f"{minutes}m"


def installation_json(item: Installation) -> dict[str, Any]:
    body: dict[str, Any] = {
        "installation_id": item.id,
        "server_name": item.server_name,
        "status": item.status,
        "health_status": item.health_status,
        "installed_at": iso(item.installed_at),
        "last_health_check": iso(item.last_health_check) if item.last_health_check else None,
        "configuration": item.configuration,
        "auto_start": item.auto_start,
        "tool_count": item.tool_count,
        "metrics": None,
    }
    if item.metrics is not None:
        body["metrics"] = {
            "uptime": uptime_text(item.metrics.uptime_s),
            "requests_handled": item.metrics.requests_handled,
            "avg_response_time": f"{item.metrics.avg_response_ms:.0f}ms",
            "error_rate": item.metrics.error_rate,
        }
    if item.error and item.status in ("failed", "offline"):
        body["error_message"] = item.error
    return body


def tool_json(tool: ToolInfo) -> dict[str, Any]:
    schema = tool.input_schema or {}
    required = set(schema.get("required") or [])
    # PodPlay lists parameters by name and marks the required ones inline
    parameters = {
        name: {**spec, "required": True} if name in required else dict(spec)
        for name, spec in (schema.get("properties") or {}).items()
        if isinstance(spec, dict)
    }
    return {
        "name": tool.name,
        "description": tool.description,
        "parameters": parameters,
        "input_schema": schema,
    }


@router.get("/search")
async def search(
    platform: PlatformDep,
    principal: PrincipalDep,
    query: Annotated[str | None, Query(max_length=200)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    official_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    sort: Literal["popularity", "name", "updated"] = "popularity",
    order: Literal["asc", "desc"] = "desc",
) -> dict[str, Any]:
    installed = await platform.mcp.installed_names(principal)
    found = platform.mcp.catalog.search(
        CatalogQuery(query, category, official_only, sort, order, limit, page), installed
    )
    filters: dict[str, Any] = {"official_only": official_only, "sort": sort, "order": order}
    if category is not None:
        filters["category"] = category
    if query is not None:
        filters["query"] = query
    return {
        "success": True,
        "servers": [server_json(entry, installed) for entry in found.entries],
        "pagination": {
            "total": found.total,
            "page": found.page,
            "limit": found.limit,
            "has_more": found.has_more,
        },
        "filters_applied": filters,
    }


@router.get("/categories")
async def categories(platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    return {
        "success": True,
        "categories": [
            {
                "name": c.name,
                "display_name": c.display_name,
                "description": c.description,
                "icon": c.icon,
                "server_count": c.server_count,
            }
            for c in platform.mcp.catalog.categories()
        ],
    }


@router.post("/install")
async def install(body: InstallBody, platform: PlatformDep, principal: PrincipalDep) -> Any:
    item = await platform.mcp.install(
        principal, body.server_name, body.configuration, auto_start=body.auto_start
    )
    entry = platform.mcp.catalog.get(body.server_name)
    return {
        "success": True,
        "installation_id": item.id,
        "server_name": item.server_name,
        "status": item.status,
        "estimated_duration": "under a minute" if entry.packages else "a few seconds",
        "message": "Installation started successfully",
    }


@router.get("/installed")
async def installed(platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    items = await platform.mcp.installations(principal)
    return {"success": True, "servers": [installation_json(item) for item in items]}


@router.delete("/uninstall/{server_name}")
async def uninstall(server_name: str, platform: PlatformDep, principal: PrincipalDep) -> Any:
    await platform.mcp.uninstall(principal, server_name)
    return {
        "success": True,
        "server_name": server_name,
        "message": "Server uninstalled successfully",
    }


@router.post("/configure/{server_name}")
async def configure(
    server_name: str, body: ConfigureBody, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, Any]:
    item, restart_required = await platform.mcp.configure(
        principal, server_name, body.configuration
    )
    message = "Configuration updated successfully"
    if restart_required and body.restart:
        item = await platform.mcp.restart(principal, server_name)
        restart_required, message = False, "Configuration updated and server restarted"
    return {
        "success": True,
        "server_name": server_name,
        "message": message,
        "restart_required": restart_required,
        "configuration": item.configuration,
    }


@router.post("/execute/{server_name}")
async def execute(
    server_name: str, body: ExecuteBody, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, Any]:
    result = await platform.mcp.execute(
        principal, server_name, body.tool_name, body.parameters, timeout_s=body.timeout
    )
    answer: dict[str, Any] = {
        "success": not result.is_error,
        "tool_name": result.tool,
        "server_name": result.server,
        "result": result.content,
        "execution_time": f"{result.duration_ms / 1000:.3f}s",
        "timestamp": iso(utcnow()),
    }
    if result.is_error:
        answer["error"] = "The tool reported an error"
        answer["error_code"] = "TOOL_EXECUTION_FAILED"
    return answer


@router.get("/tools/{server_name}")
async def tools(server_name: str, platform: PlatformDep, principal: PrincipalDep) -> Any:
    found = await platform.mcp.tools(principal, server_name)
    return {"success": True, "server_name": server_name, "tools": [tool_json(t) for t in found]}


@router.post("/import")
async def import_configuration(
    body: ImportBody, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, Any]:
    items = await import_servers(
        platform.mcp, principal, body.configuration, auto_start=body.auto_start
    )
    return {
        "success": True,
        "installations": [installation_json(item) for item in items],
        "message": f"{len(items)} server(s) imported; installation started",
    }


@router.get("/export")
async def export_configuration(
    platform: PlatformDep,
    principal: PrincipalDep,
    format: ExportFormat = "claude_desktop",
) -> dict[str, Any]:
    return await export_servers(platform.mcp, principal, format)
