"""PodPlay's MCP marketplace wire models (seed 000 "MCP Marketplace API").

Request models take what the seed sends; response models spell the seed's fields and JSON
types, and each has a `of(...)` that translates core's typed value into it. Fields the seed
does not show are Menagerie's additions, marked so.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from menagerie.core.clock import iso, utcnow
from menagerie.core.tools.models import (
    CatalogEntry,
    CatalogPage,
    CatalogQuery,
    Category,
    Installation,
    ToolInfo,
    ToolResult,
)

ServerName = Annotated[str, Field(min_length=1, max_length=128)]
Configuration = Annotated[
    dict[str, Any],
    Field(
        max_length=100,
        description="values for the server's configuration schema, plus the reserved keys "
        "env, headers, args, url, command and timeout (seconds a tool call may take)",
    ),
]
# an object whose keys are the server's or the tool's, not the seed's
FreeObject = dict[str, Any]


# ---- requests ------------------------------------------------------------------------------


class InstallBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    server_name: ServerName
    configuration: Configuration = Field(default_factory=dict)
    auto_start: bool = Field(True, strict=True)  # `0` is not a yes or no


class ConfigureBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    configuration: Configuration
    restart: bool = Field(
        False, strict=True, description="restart a running server with it right away"
    )


class ExecuteBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    tool_name: Annotated[str, Field(min_length=1, max_length=128)]
    parameters: FreeObject = Field(default_factory=dict)
    timeout: float | None = Field(
        None, gt=0, le=600, description="seconds; default: the installation's own timeout"
    )


class ImportBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    configuration: FreeObject = Field(
        description="a Claude Desktop or VS Code MCP configuration, as its JSON file holds it"
    )
    auto_start: bool = Field(True, strict=True)


# ---- the catalogue -------------------------------------------------------------------------


class ServerOut(BaseModel):
    name: str
    description: str
    category: str
    author: str
    version: str
    repository_url: str = Field(description="empty for a custom server that names none")
    popularity_score: float
    download_count: int
    is_official: bool
    is_installed: bool
    capabilities: list[str]
    dependencies: list[str]
    installation_method: str = Field(description="npm, pip, remote or command")
    configuration_schema: FreeObject
    tags: list[str]
    last_updated: str

    @classmethod
    def of(cls, entry: CatalogEntry, page: CatalogPage) -> Self:
        return cls(
            name=entry.name,
            description=entry.description,
            category=entry.category,
            author=entry.author,
            version=entry.version,
            repository_url=entry.repository_url or "",
            popularity_score=entry.popularity,
            download_count=entry.downloads,
            is_official=entry.official,
            is_installed=page.is_installed(entry),
            capabilities=list(entry.capabilities),
            dependencies=list(entry.dependencies),
            installation_method=entry.installation_method,
            configuration_schema=entry.configuration_schema,
            tags=list(entry.tags),
            last_updated=iso(entry.last_updated) if entry.last_updated else "",
        )


class Pagination(BaseModel):
    total: int
    page: int
    limit: int
    has_more: bool


class FiltersApplied(BaseModel):
    # absent rather than null when the caller did not filter by it
    category: str | SkipJsonSchema[None] = None
    query: str | SkipJsonSchema[None] = None
    official_only: bool
    sort: str
    order: str


class SearchOut(BaseModel):
    success: bool = True
    servers: list[ServerOut]
    pagination: Pagination
    filters_applied: FiltersApplied

    @classmethod
    def of(cls, page: CatalogPage, query: CatalogQuery) -> Self:
        return cls(
            servers=[ServerOut.of(entry, page) for entry in page.entries],
            pagination=Pagination(
                total=page.total, page=page.page, limit=page.limit, has_more=page.has_more
            ),
            filters_applied=FiltersApplied(
                category=query.category,
                query=query.query,
                official_only=query.official_only,
                sort=query.sort,
                order=query.order,
            ),
        )


class CategoryOut(BaseModel):
    name: str
    display_name: str
    description: str
    icon: str
    server_count: int


class CategoriesOut(BaseModel):
    success: bool = True
    categories: list[CategoryOut]

    @classmethod
    def of(cls, categories: list[Category]) -> Self:
        return cls(
            categories=[
                CategoryOut(
                    name=c.name,
                    display_name=c.display_name,
                    description=c.description,
                    icon=c.icon,
                    server_count=c.server_count,
                )
                for c in categories
            ]
        )


# ---- installations -------------------------------------------------------------------------


def duration_text(seconds: float) -> str:
    """`2h 13m`, `4d 2h`, `12m`: the seed's way of writing an uptime."""
    minutes = int(seconds) // 60
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes}m" if hours else f"{minutes}m"


def estimate_text(seconds: float) -> str:
    """An installation's expected duration in the seed's words (`2-3 minutes`)."""
    if seconds < 10:
        return "a few seconds"
    if seconds < 60:
        return "under a minute"
    low = int(seconds // 60)
    return f"{low}-{low + 1} minutes"


class InstallOut(BaseModel):
    success: bool = True
    installation_id: str
    server_name: str
    status: str
    estimated_duration: str
    message: str = "Installation started successfully"

    @classmethod
    def of(cls, item: Installation) -> Self:
        return cls(
            installation_id=item.id,
            server_name=item.server_name,
            status=item.status,
            estimated_duration=estimate_text(item.expected_install_s),
        )


class MetricsOut(BaseModel):
    uptime: str
    requests_handled: int
    avg_response_time: str
    error_rate: float


class InstalledServer(BaseModel):
    installation_id: str
    server_name: str
    status: str
    health_status: str
    installed_at: str
    last_health_check: str = Field(description="until its first check: when it was installed")
    configuration: FreeObject = Field(description="secrets masked")
    metrics: MetricsOut = Field(description="since the server last started; zeros when not running")
    auto_start: bool  # Menagerie's
    tool_count: int  # Menagerie's
    error_message: str | SkipJsonSchema[None] = None  # Menagerie's: why it failed or is offline
    # Menagerie's: what it runs under, "bwrap" (the sandbox backend) or "none"
    isolation: str = "none"

    @classmethod
    def of(cls, item: Installation) -> Self:
        metrics = item.metrics
        checked = item.last_health_check or item.installed_at
        return cls(
            installation_id=item.id,
            server_name=item.server_name,
            status=item.status,
            health_status=item.health_status,
            installed_at=iso(item.installed_at),
            last_health_check=iso(checked),
            configuration=item.configuration,
            metrics=MetricsOut(
                uptime=duration_text(metrics.uptime_s if metrics else 0),
                requests_handled=metrics.requests_handled if metrics else 0,
                avg_response_time=f"{metrics.avg_response_ms if metrics else 0:.0f}ms",
                error_rate=metrics.error_rate if metrics else 0.0,
            ),
            auto_start=item.auto_start,
            tool_count=item.tool_count,
            error_message=item.error if item.status in ("failed", "offline") else None,
            isolation=item.isolation,
        )


class InstalledOut(BaseModel):
    success: bool = True
    servers: list[InstalledServer]


class UninstallOut(BaseModel):
    success: bool = True
    server_name: str
    message: str = "Server uninstalled successfully"


class ConfigureOut(BaseModel):
    success: bool = True
    server_name: str
    message: str
    restart_required: bool
    configuration: FreeObject = Field(description="Menagerie's: the stored one, secrets masked")


class ImportOut(BaseModel):
    success: bool = True
    installations: list[InstalledServer]
    message: str


class ExportOut(BaseModel):
    """A client configuration file: Claude Desktop's `mcpServers` or VS Code's `servers`."""

    model_config = ConfigDict(extra="allow")

    mcpServers: dict[str, FreeObject] | SkipJsonSchema[None] = None  # Claude Desktop spells it so
    servers: dict[str, FreeObject] | SkipJsonSchema[None] = None


# ---- tools ---------------------------------------------------------------------------------


class ExecuteOut(BaseModel):
    success: bool
    tool_name: str
    server_name: str
    result: FreeObject | list[Any] = Field(
        description="the tool's structured result, else its content blocks"
    )
    execution_time: str
    timestamp: str
    error: str | SkipJsonSchema[None] = None  # when the tool itself reported a failure

    @classmethod
    def of(cls, result: ToolResult) -> Self:
        content = result.content
        return cls(
            success=not result.is_error,
            tool_name=result.tool,
            server_name=result.server,
            result=content if isinstance(content, dict | list) else {"value": content},
            execution_time=f"{result.duration_ms / 1000:.3f}s",
            timestamp=iso(utcnow()),
            error="The tool reported an error" if result.is_error else None,
        )


class ToolOut(BaseModel):
    name: str
    description: str
    parameters: FreeObject = Field(
        description="each parameter's JSON Schema by name, `required: true` on required ones"
    )
    input_schema: FreeObject  # Menagerie's: the tool's JSON Schema as the server gave it

    @classmethod
    def of(cls, tool: ToolInfo) -> Self:
        schema = tool.input_schema or {}
        required = set(schema.get("required") or [])
        parameters = {
            name: {**spec, "required": True} if name in required else dict(spec)
            for name, spec in (schema.get("properties") or {}).items()
            if isinstance(spec, dict)
        }
        return cls(
            name=tool.name,
            description=tool.description,
            parameters=parameters,
            input_schema=schema,
        )


class ToolsOut(BaseModel):
    success: bool = True
    server_name: str
    tools: list[ToolOut]


SortField = Literal["popularity", "name", "updated"]
SortOrder = Literal["asc", "desc"]
