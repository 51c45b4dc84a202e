"""The tools page's API: the MCP catalogue (search, categories), the tenant's installed servers
(install, configure, restart, stop, uninstall), their tools and tool calls, and the import of
a Claude Desktop or VS Code `mcp.json`.

Installation progress and status changes are not polled here: the page follows them on
`/console/api/events?topics=mcp.*`. Who may choose what a server runs (a command line, a
code-loading variable) is core's policy, as for every other surface.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from menagerie.core.clock import iso
from menagerie.core.errors import Invalid
from menagerie.core.tools.configuration import normalize_schema, secret_keys
from menagerie.core.tools.models import CatalogEntry, CatalogQuery, Installation
from menagerie.core.tools.portability import import_servers
from menagerie.core.tools.progress import expected_install_s
from menagerie.core.tools.service import ToolService
from menagerie.web.console.deps import ConsolePrincipalDep, PlatformDep
from menagerie.web.console.schemas.common import Deleted
from menagerie.web.console.schemas.tools import (
    CallIn,
    CallOut,
    CatalogOut,
    CategoryList,
    CategoryOut,
    Configured,
    ConfigureIn,
    EntryOut,
    ImportIn,
    ImportOut,
    InstallIn,
    MetricsOut,
    ServerList,
    ServerOut,
    ToolList,
    ToolOut,
)

router = APIRouter(prefix="/tools", tags=["tools"])

Name = Annotated[str, Path(min_length=1, max_length=64)]
IMPORTED = "Imported MCP server"


def entry_out(entry: CatalogEntry, installed: bool) -> EntryOut:
    return EntryOut(
        name=entry.name,
        description=entry.description,
        version=entry.version,
        category=entry.category,
        author=entry.author,
        tags=list(entry.tags),
        official=entry.official,
        popularity=entry.popularity,
        installed=installed,
        installation_method=entry.installation_method,
        repository_url=entry.repository_url,
        configuration_schema=normalize_schema(entry.configuration_schema),
        secret_fields=sorted(secret_keys(entry.configuration_schema)),
        expected_install_s=expected_install_s(entry),
    )


def _catalogued(service: ToolService, name: str) -> CatalogEntry | None:
    # an imported server keeps its definition beside its installation, not in the catalogue
    return service.catalog.get(name) if name in service.catalog else None


def server_out(service: ToolService, item: Installation) -> ServerOut:
    entry = _catalogued(service, item.server_name)
    schema = entry.configuration_schema if entry is not None else {"type": "object"}
    metrics = item.metrics
    return ServerOut(
        id=item.id,
        name=item.server_name,
        description=entry.description if entry is not None else IMPORTED,
        category=entry.category if entry is not None else "custom",
        status=item.status,
        health=item.health_status,
        configuration=item.configuration,  # core's redacted copy
        configuration_schema=normalize_schema(schema),
        secret_fields=sorted(secret_keys(schema)),
        auto_start=item.auto_start,
        installed_at=iso(item.installed_at) or "",
        last_health_check=iso(item.last_health_check),
        error=item.error,
        tool_count=item.tool_count,
        expected_install_s=item.expected_install_s,
        isolation=item.isolation,
        metrics=None
        if metrics is None
        else MetricsOut(
            uptime_s=metrics.uptime_s,
            requests_handled=metrics.requests_handled,
            errors=metrics.errors,
            avg_response_ms=metrics.avg_response_ms,
            error_rate=metrics.error_rate,
        ),
    )


# -- the catalogue ------------------------------------------------------------------------------


@router.get("/categories", response_model=CategoryList)
async def categories(platform: PlatformDep, principal: ConsolePrincipalDep) -> CategoryList:
    return CategoryList(
        categories=[
            CategoryOut(
                name=c.name,
                display_name=c.display_name,
                description=c.description,
                icon=c.icon,
                server_count=c.server_count,
            )
            for c in platform.mcp.catalog.categories()
        ]
    )


@router.get("/catalog", response_model=CatalogOut)
async def catalog(
    platform: PlatformDep,
    principal: ConsolePrincipalDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 24,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> CatalogOut:
    query = CatalogQuery(
        query=q.strip() if q and q.strip() else None,
        category=category or None,
        limit=limit,
        page=page,
    )
    found = await platform.mcp.search(principal, query)
    return CatalogOut(
        entries=[entry_out(e, found.is_installed(e)) for e in found.entries],
        total=found.total,
        page=found.page,
        limit=found.limit,
        has_more=found.has_more,
    )


# -- installed servers --------------------------------------------------------------------------


@router.get("/servers", response_model=ServerList)
async def servers(platform: PlatformDep, principal: ConsolePrincipalDep) -> ServerList:
    items = await platform.mcp.installations(principal)
    return ServerList(servers=[server_out(platform.mcp, item) for item in items])


@router.post("/servers", response_model=ServerOut, status_code=201)
async def install(
    body: InstallIn, platform: PlatformDep, principal: ConsolePrincipalDep
) -> ServerOut:
    """Store the installation and start installing it in the background: its progress comes
    as `mcp.installation_progress` events."""
    item = await platform.mcp.install(
        principal, body.name, body.configuration, auto_start=body.auto_start
    )
    return server_out(platform.mcp, item)


@router.get("/servers/{name}", response_model=ServerOut)
async def server(name: Name, platform: PlatformDep, principal: ConsolePrincipalDep) -> ServerOut:
    return server_out(platform.mcp, await platform.mcp.installation(principal, name))


@router.patch("/servers/{name}", response_model=Configured)
async def configure(
    name: Name, body: ConfigureIn, platform: PlatformDep, principal: ConsolePrincipalDep
) -> Configured:
    item, restart_required = await platform.mcp.configure(principal, name, body.configuration)
    message = "The configuration is saved."
    if restart_required and body.restart:
        item = await platform.mcp.restart(principal, name)
        restart_required, message = False, "The configuration is saved and the server restarted."
    elif restart_required:
        message = "The configuration is saved; restart the server to use it."
    return Configured(
        server=server_out(platform.mcp, item), restart_required=restart_required, message=message
    )


@router.post("/servers/{name}/restart", response_model=ServerOut)
async def restart(name: Name, platform: PlatformDep, principal: ConsolePrincipalDep) -> ServerOut:
    return server_out(platform.mcp, await platform.mcp.restart(principal, name))


@router.post("/servers/{name}/stop", response_model=ServerOut)
async def stop(name: Name, platform: PlatformDep, principal: ConsolePrincipalDep) -> ServerOut:
    return server_out(platform.mcp, await platform.mcp.stop_server(principal, name))


@router.delete("/servers/{name}", response_model=Deleted)
async def uninstall(name: Name, platform: PlatformDep, principal: ConsolePrincipalDep) -> Deleted:
    await platform.mcp.uninstall(principal, name)
    return Deleted()


# -- tools ----------------------------------------------------------------------------------------


@router.get("/servers/{name}/tools", response_model=ToolList)
async def tools(name: Name, platform: PlatformDep, principal: ConsolePrincipalDep) -> ToolList:
    found = await platform.mcp.tools(principal, name)
    return ToolList(
        server=name,
        tools=[
            ToolOut(name=t.name, description=t.description, input_schema=t.input_schema)
            for t in found
        ],
    )


@router.post("/servers/{name}/tools/{tool}/call", response_model=CallOut)
async def call(
    name: Name,
    tool: Annotated[str, Path(min_length=1, max_length=128)],
    body: CallIn,
    platform: PlatformDep,
    principal: ConsolePrincipalDep,
) -> CallOut:
    """Call a tool once. A tool that fails answers 200 with `is_error` (its content says why);
    a call that cannot be made (bad arguments, server offline) is an error sentence."""
    result = await platform.mcp.execute(
        principal, name, tool, body.arguments, timeout_s=body.timeout_s
    )
    content: Any = result.content  # the server's own secrets are masked by core
    return CallOut(
        server=result.server,
        tool=result.tool,
        content=content,
        is_error=result.is_error,
        duration_ms=round(result.duration_ms, 1),
    )


# -- import ---------------------------------------------------------------------------------------


@router.post("/import", response_model=ImportOut, status_code=201)
async def import_configuration(
    body: ImportIn, platform: PlatformDep, principal: ConsolePrincipalDep
) -> ImportOut:
    """Install every server of the file (all are checked before any is installed)."""
    items = await import_servers(
        platform.mcp, principal, body.configuration, auto_start=body.auto_start
    )
    count = len(items)
    if count == 0:
        raise Invalid(
            "The file lists no servers.",
            field="configuration",
            expected="at least one server under mcpServers or servers",
        )
    noun = "server" if count == 1 else "servers"
    return ImportOut(
        servers=[server_out(platform.mcp, item) for item in items],
        message=f"{count} {noun} imported; installation started.",
    )
