"""The tools page: the MCP catalogue, installed servers, their tools and tool calls, imports.

A configuration here is always core's redacted copy: a secret's value never leaves the server,
only its masked form (`ghp_***_redacted`) and the names of the fields that hold secrets.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from menagerie.web.console.schemas.common import Wire


class CategoryOut(Wire):
    name: str
    display_name: str
    description: str
    icon: str
    server_count: int


class CategoryList(Wire):
    categories: list[CategoryOut]


class EntryOut(Wire):
    """One server of the catalogue, as the install form needs it."""

    name: str
    description: str
    version: str
    category: str
    author: str
    tags: list[str]
    official: bool
    popularity: float
    installed: bool
    installation_method: str  # pip, npm, remote or command
    repository_url: str | None
    configuration_schema: dict[str, Any]  # a standard JSON Schema (required lists lifted)
    secret_fields: list[str]  # properties whose values are credentials: password inputs
    expected_install_s: float


class CatalogOut(Wire):
    entries: list[EntryOut]
    total: int
    page: int
    limit: int
    has_more: bool


class MetricsOut(Wire):
    uptime_s: float
    requests_handled: int
    errors: int
    avg_response_ms: float
    error_rate: float


class ServerOut(Wire):
    """An installed server: its status, health and its configuration with secrets masked."""

    id: str
    name: str
    description: str
    category: str
    status: Literal[
        "installing", "installed", "starting", "running", "stopped", "offline", "failed"
    ]
    health: Literal["healthy", "unhealthy", "unknown"]
    configuration: dict[str, Any]  # redacted by core
    configuration_schema: dict[str, Any]
    secret_fields: list[str]
    auto_start: bool
    installed_at: str
    last_health_check: str | None
    error: str | None
    tool_count: int
    expected_install_s: float
    isolation: Literal["bwrap", "none"]
    metrics: MetricsOut | None  # None: no session runs it in this process


class ServerList(Wire):
    servers: list[ServerOut]


class InstallIn(Wire):
    name: str = Field(min_length=1, max_length=64)
    configuration: dict[str, Any] = Field(default_factory=dict)
    auto_start: bool = True


class ConfigureIn(Wire):
    """A JSON merge patch of the configuration: a key left out keeps its value, `null` removes
    it, and a masked value read earlier keeps the stored secret."""

    configuration: dict[str, Any]
    restart: bool = True  # restart a running server when the change needs it


class Configured(Wire):
    server: ServerOut
    restart_required: bool  # the change waits for a restart the caller did not ask for
    message: str


class ToolOut(Wire):
    name: str
    description: str
    input_schema: dict[str, Any]


class ToolList(Wire):
    server: str
    tools: list[ToolOut]


class CallIn(Wire):
    arguments: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float | None = Field(None, gt=0, le=600)


class CallOut(Wire):
    server: str
    tool: str
    content: Any  # the tool's structured result, else its content blocks
    is_error: bool  # the tool itself reported a failure (content says why)
    duration_ms: float


class ImportIn(Wire):
    """A Claude Desktop (`{"mcpServers": …}`) or VS Code (`{"servers": …}`) configuration."""

    configuration: dict[str, Any]
    auto_start: bool = True


class ImportOut(Wire):
    servers: list[ServerOut]
    message: str
