"""The typed values of the MCP domain: catalogue entries, launch plans, installations, tools."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from menagerie.settings import Settings

TransportKind = Literal["stdio", "streamable-http", "sse"]
RegistryType = Literal["pypi", "npm"]


@dataclass(frozen=True, slots=True)
class EnvVariable:
    """An environment variable a package reads; `value` may hold `{config_key}` placeholders."""

    name: str
    value: str
    description: str = ""
    is_secret: bool = False


@dataclass(frozen=True, slots=True)
class Package:
    """How to install and start one server from a package registry (MCP Registry `packages`).

    `arguments` are groups of command-line tokens with `{config_key}` placeholders: a group is
    dropped when a placeholder it names has no value, and a placeholder whose value is a list
    expands into one token per item (a directory list, say).
    """

    registry_type: RegistryType
    identifier: str
    version: str | None
    transport: TransportKind = "stdio"
    executable: str | None = None  # the command the package installs; defaults to its name
    arguments: tuple[tuple[str, ...], ...] = ()
    environment: tuple[EnvVariable, ...] = ()
    port_env: str | None = None  # for an HTTP package: the variable that chooses its port
    path: str = "/mcp"  # for an HTTP package: where it serves MCP


@dataclass(frozen=True, slots=True)
class Remote:
    """A server reachable at a URL (MCP Registry `remotes`)."""

    transport: TransportKind
    url: str
    headers: tuple[tuple[str, str], ...] = ()  # values may hold `{config_key}` placeholders


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One server of the marketplace: the MCP Registry `server.json` shape and our extensions."""

    name: str
    description: str
    version: str
    category: str
    packages: tuple[Package, ...] = ()
    remotes: tuple[Remote, ...] = ()
    repository_url: str | None = None
    tags: tuple[str, ...] = ()
    author: str = ""
    popularity: float = 0.0
    downloads: int = 0
    official: bool = False
    capabilities: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    configuration_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    last_updated: datetime | None = None
    custom: bool = False  # from data/mcp_servers.json or an imported client configuration
    # a custom stdio server started by command line rather than from a registry package
    command: str | None = None
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    # whether the server needs the network when sandboxed: built-in entries say so (`network`
    # in catalog.json); a server we know nothing of keeps it, lest it break unseen
    network: bool = True

    @property
    def installation_method(self) -> str:
        if self.packages:
            return self.packages[0].registry_type.replace("pypi", "pip")
        return "remote" if self.remotes else "command"


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    display_name: str
    description: str
    icon: str
    server_count: int = 0


@dataclass(frozen=True, slots=True)
class CatalogQuery:
    query: str | None = None
    category: str | None = None
    official_only: bool = False
    sort: Literal["popularity", "name", "updated"] = "popularity"
    order: Literal["asc", "desc"] = "desc"
    limit: int = 20
    page: int = 1


@dataclass(frozen=True, slots=True)
class CatalogPage:
    entries: list[CatalogEntry]
    total: int
    page: int
    limit: int
    installed: frozenset[str] = frozenset()  # the names on this page that are installed

    @property
    def has_more(self) -> bool:
        return self.page * self.limit < self.total

    def is_installed(self, entry: CatalogEntry) -> bool:
        return entry.name in self.installed


@dataclass(frozen=True, slots=True)
class LaunchPlan:
    """Everything needed to open a session to one server, secrets included: never rendered."""

    transport: TransportKind
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # an HTTP server we start ourselves: the command runs first and `url` is its local address
    local_http: bool = False


@dataclass(frozen=True, slots=True)
class ToolInfo:
    server: str
    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ServerMetrics:
    uptime_s: float
    requests_handled: int
    errors: int
    avg_response_ms: float

    @property
    def error_rate(self) -> float:
        return round(self.errors / self.requests_handled, 4) if self.requests_handled else 0.0


InstallStatus = Literal[
    "installing", "installed", "starting", "running", "stopped", "offline", "failed"
]
HealthStatus = Literal["healthy", "unhealthy", "unknown"]


@dataclass(frozen=True, slots=True)
class Installation:
    id: str
    tenant_id: str
    server_name: str
    status: InstallStatus
    health_status: HealthStatus
    configuration: dict[str, Any]  # redacted
    auto_start: bool
    installed_at: datetime
    last_health_check: datetime | None
    error: str | None
    metrics: ServerMetrics | None  # None: no session runs it in this process
    tool_count: int
    expected_install_s: float = 0.0  # while installing: about how long it takes in all
    # what it runs under: "bwrap" (the sandbox backend), "none" (Menagerie's own user)
    isolation: Literal["bwrap", "none"] = "none"


@dataclass(frozen=True, slots=True)
class IntegrationStatus:
    """How a tenant's MCP servers are doing, taken from the live sessions."""

    state: Literal["idle", "healthy", "degraded", "unhealthy"]
    connected: list[str]  # servers whose session is up, by name
    available_tools: int  # tools of the connected servers
    # the latest health check of any session; with none checked yet, when this was taken
    last_check: datetime


@dataclass(frozen=True, slots=True)
class ToolResult:
    server: str
    tool: str
    content: Any  # structured content when the server gives it, else the text/blocks
    is_error: bool
    duration_ms: float


@dataclass(frozen=True, slots=True)
class McpSettings:
    root: Path  # installations' working directories
    packages_dir: Path
    allow_private_urls: bool = False
    connect_timeout_s: float = 30.0
    call_timeout_s: float = 30.0
    health_interval_s: float = 30.0
    max_installations: int = 50
    pip_index_url: str | None = None
    sandbox: Literal["auto", "off"] = "auto"  # auto: stdio servers in an isolated backend

    @classmethod
    def from_settings(cls, settings: Settings) -> McpSettings:
        data_dir = settings.resolved_data_dir
        return cls(
            root=data_dir / "mcp" / "installations",
            packages_dir=settings.mcp_packages_dir or data_dir / "mcp" / "packages",
            allow_private_urls=settings.mcp_allow_private_urls,
            connect_timeout_s=settings.mcp_connect_timeout_s,
            call_timeout_s=settings.mcp_call_timeout_s,
            health_interval_s=settings.mcp_health_interval_s,
            max_installations=settings.mcp_max_installations,
            pip_index_url=settings.mcp_pip_index_url,
            sandbox=settings.mcp_sandbox,
        )
