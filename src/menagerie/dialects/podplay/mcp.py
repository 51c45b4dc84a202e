"""PodPlay's MCP marketplace (`/api/mcp…`): search, install, configure, run tools.

Import and export of Claude Desktop / VS Code configurations are Menagerie's additions, under
the same prefix.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from menagerie.core.tools.models import CatalogQuery
from menagerie.core.tools.portability import ExportFormat, export_servers, import_servers
from menagerie.dialects.podplay.deps import MCP, PlatformDep, PrincipalDep, under_maintenance
from menagerie.dialects.podplay.schemas.mcp import (
    CategoriesOut,
    ConfigureBody,
    ConfigureOut,
    ExecuteBody,
    ExecuteOut,
    ExportOut,
    ImportBody,
    ImportOut,
    InstallBody,
    InstalledOut,
    InstalledServer,
    InstallOut,
    SearchOut,
    SortField,
    SortOrder,
    ToolOut,
    ToolsOut,
    UninstallOut,
)
from menagerie.http.openapi import errors

router = APIRouter(prefix="/api/mcp", tags=["mcp"], **under_maintenance(MCP))


@router.get("/search", response_model=SearchOut, response_model_exclude_none=True)
async def search(
    platform: PlatformDep,
    principal: PrincipalDep,
    query: Annotated[str | None, Query(max_length=200)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    official_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    sort: SortField = "popularity",
    order: SortOrder = "desc",
) -> SearchOut:
    wanted = CatalogQuery(query, category, official_only, sort, order, limit, page)
    return SearchOut.of(await platform.mcp.search(principal, wanted), wanted)


@router.get("/categories", response_model=CategoriesOut)
async def categories(platform: PlatformDep, principal: PrincipalDep) -> CategoriesOut:
    return CategoriesOut.of(platform.mcp.catalog.categories())


@router.post("/install", response_model=InstallOut, responses=errors(403, 404, 409))
async def install(body: InstallBody, platform: PlatformDep, principal: PrincipalDep) -> InstallOut:
    item = await platform.mcp.install(
        principal, body.server_name, body.configuration, auto_start=body.auto_start
    )
    return InstallOut.of(item)


@router.get("/installed", response_model=InstalledOut, response_model_exclude_none=True)
async def installed(platform: PlatformDep, principal: PrincipalDep) -> InstalledOut:
    items = await platform.mcp.installations(principal)
    return InstalledOut(servers=[InstalledServer.of(item) for item in items])


@router.delete("/uninstall/{server_name}", response_model=UninstallOut, responses=errors(404))
async def uninstall(
    server_name: str, platform: PlatformDep, principal: PrincipalDep
) -> UninstallOut:
    await platform.mcp.uninstall(principal, server_name)
    return UninstallOut(server_name=server_name)


@router.post(
    "/configure/{server_name}", response_model=ConfigureOut, responses=errors(403, 404, 409)
)
async def configure(
    server_name: str, body: ConfigureBody, platform: PlatformDep, principal: PrincipalDep
) -> ConfigureOut:
    item, restart_required = await platform.mcp.configure(
        principal, server_name, body.configuration
    )
    message = "Configuration updated successfully"
    if restart_required and body.restart:
        item = await platform.mcp.restart(principal, server_name)
        restart_required, message = False, "Configuration updated and server restarted"
    return ConfigureOut(
        server_name=server_name,
        message=message,
        restart_required=restart_required,
        configuration=item.configuration,
    )


@router.post(
    "/execute/{server_name}",
    response_model=ExecuteOut,
    response_model_exclude_none=True,
    responses=errors(404, 503, 504),
)
async def execute(
    server_name: str, body: ExecuteBody, platform: PlatformDep, principal: PrincipalDep
) -> ExecuteOut:
    result = await platform.mcp.execute(
        principal, server_name, body.tool_name, body.parameters, timeout_s=body.timeout
    )
    return ExecuteOut.of(result)


@router.get("/tools/{server_name}", response_model=ToolsOut, responses=errors(404, 503))
async def tools(server_name: str, platform: PlatformDep, principal: PrincipalDep) -> ToolsOut:
    found = await platform.mcp.tools(principal, server_name)
    return ToolsOut(server_name=server_name, tools=[ToolOut.of(t) for t in found])


@router.post(
    "/import",
    response_model=ImportOut,
    response_model_exclude_none=True,
    responses=errors(403, 409),
)
async def import_configuration(
    body: ImportBody, platform: PlatformDep, principal: PrincipalDep
) -> ImportOut:
    items = await import_servers(
        platform.mcp, principal, body.configuration, auto_start=body.auto_start
    )
    return ImportOut(
        installations=[InstalledServer.of(item) for item in items],
        message=f"{len(items)} server(s) imported; installation started",
    )


@router.get("/export", response_model=ExportOut, response_model_exclude_none=True)
async def export_configuration(
    platform: PlatformDep,
    principal: PrincipalDep,
    format: ExportFormat = "claude_desktop",
) -> ExportOut:
    return ExportOut.model_validate(await export_servers(platform.mcp, principal, format))
