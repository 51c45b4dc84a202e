"""MCP servers per tenant: install, configure, run, call, watch, uninstall.

`ToolService` is what the rest of the program calls. Installations live in the database
with their configuration sealed (`installations.py`); the running sessions live in this
process (`supervisor.py`). Status changes and installation progress go out on the event bus
as typed events (`events.py`), where the surfaces in `realtime/` pick them up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from pathlib import Path
from typing import Any

from menagerie.core.clock import utcnow
from menagerie.core.crypto import SecretBox
from menagerie.core.errors import Conflict, MenagerieError
from menagerie.core.events.bus import EventBus
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.redact import Redactor
from menagerie.core.runs.worker import InProcessWorker
from menagerie.core.sandboxes.backends.base import Backend
from menagerie.core.tools.catalog import Catalog
from menagerie.core.tools.configuration import (
    call_timeout,
    collect_secrets,
    merge_configuration,
    needs_restart,
)
from menagerie.core.tools.entries import entry_to_definition
from menagerie.core.tools.events import PROGRESS_TOPIC, STATUS_TOPIC
from menagerie.core.tools.installations import Installations
from menagerie.core.tools.installer import PackageHome, PackageInstaller, package_key
from menagerie.core.tools.launch import checked_plan
from menagerie.core.tools.models import (
    CatalogEntry,
    CatalogPage,
    CatalogQuery,
    Installation,
    IntegrationStatus,
    LaunchPlan,
    McpSettings,
    ToolInfo,
    ToolResult,
)
from menagerie.core.tools.peers import PeerSessions
from menagerie.core.tools.policy import check_configuration
from menagerie.core.tools.progress import ProgressReporter, expected_install_s
from menagerie.core.tools.sandboxing import ServerSandbox
from menagerie.core.tools.session import McpSession
from menagerie.core.tools.supervisor import CallListener, Supervisor
from menagerie.core.tools.tables import McpInstallationRow
from menagerie.core.tools.views import installation_view
from menagerie.storage.database import Database

log = logging.getLogger(__name__)

__all__ = ["PROGRESS_TOPIC", "STATUS_TOPIC", "ToolService"]

# the stored statuses of a server that should be running (started at start-up, or on demand)
RESUMABLE = ("running", "starting", "offline", "installed")


async def _quietly(progress: int, step: str) -> None:
    """Progress of an install made on demand: no one is watching it."""


class ToolService:
    def __init__(
        self,
        database: Database,
        secrets: SecretBox,
        events: EventBus,
        worker: InProcessWorker,
        redactor: Redactor,
        catalog: Catalog,
        settings: McpSettings,
        sandbox_backend: Backend | None = None,
    ) -> None:
        self.database = database
        self._events = events
        self._worker = worker
        self._redactor = redactor
        self.catalog = catalog
        self.settings = settings
        self.installer = PackageInstaller(settings.packages_dir, index_url=settings.pip_index_url)
        self.store = Installations(database, secrets, catalog)
        # stdio servers from packages run inside the sandbox backend when it isolates
        self.sandbox = ServerSandbox(sandbox_backend, settings.sandbox)
        self.supervisor = Supervisor(
            events, redactor, settings, self.store.record_status, self.sandbox
        )
        # the other processes' sessions follow what is changed through this one
        self.peers = PeerSessions(events, self.supervisor)

    # -- lifecycle of the service ------------------------------------------------------------

    async def start(self) -> None:
        """Resume what was running before a restart, and finish interrupted installs."""
        self.supervisor.reopen()
        await self.peers.start()
        for row in await self.store.all():
            if row.status == "installing":
                self._worker.submit(f"mcp-install-{row.id}", self._install_job(row.id))
            elif row.auto_start and row.status in RESUMABLE:
                self.supervisor.spawn(self._start_row(row))

    async def stop(self) -> None:
        await self.peers.stop()
        await self.supervisor.stop()

    # -- the catalogue, per tenant ------------------------------------------------------------

    async def installed_names(self, principal: Principal) -> set[str]:
        return await self.store.names(principal.tenant_id)

    async def search(self, principal: Principal, query: CatalogQuery) -> CatalogPage:
        """A page of the catalogue, each entry marked installed or not for the caller."""
        return self.catalog.search(query, await self.store.names(principal.tenant_id))

    # -- installations ----------------------------------------------------------------------------

    async def install(
        self,
        principal: Principal,
        server_name: str,
        configuration: dict[str, Any] | None = None,
        *,
        auto_start: bool = True,
        entry: CatalogEntry | None = None,
    ) -> Installation:
        """Check and store the installation, then install in the background."""
        stored_definition = entry is not None and entry.name not in self.catalog
        entry = entry or self.catalog.get(server_name)
        configuration = dict(configuration or {})
        await check_configuration(
            principal, entry, configuration, {}, self.settings.allow_private_urls
        )
        package = entry.packages[0] if entry.packages and not configuration.get("command") else None
        row = McpInstallationRow(
            id=new_id("inst"),
            tenant_id=principal.tenant_id,
            server_name=entry.name,
            definition=entry_to_definition(entry) if stored_definition else None,
            configuration_sealed=self.store.seal(configuration),
            package_key=package_key(package) if package else None,
            auto_start=auto_start,
            status="installing",
            installed_at=utcnow(),
        )
        await self.store.add(row, limit=self.settings.max_installations)
        self._remember_secrets(entry, configuration)
        self._worker.submit(f"mcp-install-{row.id}", self._install_job(row.id))
        return self._view(row, entry, configuration)

    async def installations(self, principal: Principal) -> list[Installation]:
        rows = await self.store.of_tenant(principal.tenant_id)
        return [
            self._view(row, self.store.entry(row), self.store.configuration(row)) for row in rows
        ]

    async def installation(self, principal: Principal, server_name: str) -> Installation:
        row = await self.store.named(principal.tenant_id, server_name)
        return self._view(row, self.store.entry(row), self.store.configuration(row))

    async def uninstall(self, principal: Principal, server_name: str) -> None:
        async with self.supervisor.lock(principal.tenant_id, server_name):
            row = await self.store.named(principal.tenant_id, server_name)
            await self.supervisor.discard(row.tenant_id, row.server_name)
            await self.store.delete(row.id)
            shutil.rmtree(self._workdir(row.id), ignore_errors=True)
            entry = self.store.entry(row)
            if row.package_key and entry.packages:
                # the package copy goes with its last user, whichever tenant that was
                await self.installer.release(entry.packages[0], user=row.id)
        await self.supervisor.publish(row.tenant_id, row.id, row.server_name, "uninstalled", None)
        await self.peers.tell(row.tenant_id, row.server_name, "uninstalled")

    async def configure(
        self, principal: Principal, server_name: str, configuration: dict[str, Any]
    ) -> tuple[Installation, bool]:
        """Store a new configuration; says whether the running server must restart for it.

        Keys applied to each call (`timeout`) take effect at once, with no restart.
        """
        async with self.supervisor.lock(principal.tenant_id, server_name):
            row = await self.store.named(principal.tenant_id, server_name)
            entry = self.store.entry(row)
            current = self.store.configuration(row)
            merged = merge_configuration(current, configuration)
            await check_configuration(
                principal, entry, merged, current, self.settings.allow_private_urls
            )
            row = await self.store.reconfigure(row.id, merged)
            self._remember_secrets(entry, merged)
            session = self.supervisor.get(row.tenant_id, row.server_name)
            if session is not None:
                session.call_timeout_s = call_timeout(merged, self.settings.call_timeout_s)
        restart = session is not None and needs_restart(current, merged)
        await self.peers.tell(row.tenant_id, row.server_name, "reconfigured")
        return self._view(row, entry, merged), restart

    async def restart(self, principal: Principal, server_name: str) -> Installation:
        row = await self.store.named(principal.tenant_id, server_name)
        if row.status in ("installing", "failed"):
            raise Conflict(f"{server_name} is {row.status}", reason="NOT_RUNNABLE")
        await self._start_row(row, restart=True)
        await self.peers.tell(row.tenant_id, row.server_name, "restarted")
        return await self.installation(principal, server_name)

    async def stop_server(self, principal: Principal, server_name: str) -> Installation:
        row = await self.store.named(principal.tenant_id, server_name)
        await self.supervisor.discard(row.tenant_id, row.server_name)
        await self.store.record_status(row.id, "stopped", None)
        await self.peers.tell(row.tenant_id, row.server_name, "stopped")
        return await self.installation(principal, server_name)

    # -- tools ----------------------------------------------------------------------------------

    async def tools(self, principal: Principal, server_name: str) -> list[ToolInfo]:
        return list((await self._session(principal, server_name)).tools)

    def cached_tools(self, tenant_id: str) -> list[ToolInfo]:
        """Every tool of the tenant's running servers, from the sessions' caches (no I/O)."""
        return self.supervisor.cached_tools(tenant_id)

    def search_tools(self, principal: Principal, query: str) -> list[ToolInfo]:
        """The caller's running tools whose name, description or server holds every word."""
        terms = query.lower().split()
        found = []
        for tool in self.supervisor.cached_tools(principal.tenant_id):
            text = f"{tool.name} {tool.description} {tool.server}".lower()
            if all(term in text for term in terms):
                found.append(tool)
        return found

    def sessions(self, tenant_id: str) -> list[McpSession]:
        return self.supervisor.of_tenant(tenant_id)

    def on_tool_call(self, listener: CallListener) -> None:
        """Tell `listener(server, outcome, seconds)` of every tool call (ok, tool_error,
        failed: offline or timed out); arguments refused before the call are not calls."""
        self.supervisor.on_call(listener)

    async def execute(
        self,
        principal: Principal,
        server_name: str,
        tool: str,
        arguments: dict[str, Any],
        *,
        timeout_s: float | None = None,
    ) -> ToolResult:
        """Call a tool, bounded by `timeout_s`, else by the installation's own `timeout`."""
        session = await self._session(principal, server_name)
        return await self.supervisor.call(session, tool, arguments, timeout_s=timeout_s)

    # -- health ---------------------------------------------------------------------------------

    def status(self, principal: Principal) -> IntegrationStatus:
        """The caller's servers as their live sessions see them (no I/O)."""
        sessions = self.supervisor.of_tenant(principal.tenant_id)
        connected = [s for s in sessions if s.state == "running"]
        checks = [s.last_check for s in sessions if s.last_check is not None]
        if not sessions:
            state = "idle"
        elif len(connected) == len(sessions):
            state = "healthy"
        else:
            state = "degraded" if connected else "unhealthy"
        return IntegrationStatus(
            state=state,
            connected=[s.name for s in connected],
            available_tools=sum(len(s.tools) for s in connected),
            last_check=max(checks) if checks else utcnow(),
        )

    async def overview(self, tenant_id: str | None = None) -> dict[str, Any]:
        """Servers online and installed, of one tenant or (for operators) of all tenants."""
        total = await self.store.count(tenant_id)
        sessions = (
            self.supervisor.of_tenant(tenant_id)
            if tenant_id is not None
            else self.supervisor.every()
        )
        online = sum(1 for s in sessions if s.state == "running")
        checks = [s.last_check for s in sessions if s.last_check is not None]
        return {
            "status": "healthy" if online == len(sessions) else "degraded",
            "servers_online": online,
            "servers_total": total,
            "last_sync": max(checks) if checks else None,
        }

    async def launch_plans(
        self, principal: Principal
    ) -> list[tuple[Installation, LaunchPlan | None, list[str]]]:
        """Each installation with how it is started and its secrets (for exports to redact)."""
        plans: list[tuple[Installation, LaunchPlan | None, list[str]]] = []
        for row in await self.store.of_tenant(principal.tenant_id):
            entry, configuration = self.store.entry(row), self.store.configuration(row)
            running = self.supervisor.get(row.tenant_id, row.server_name)
            plan = running.plan if running is not None else None
            if plan is None:
                with contextlib.suppress(MenagerieError):
                    plan = await self._plan(row, entry, configuration)
            secrets = collect_secrets(entry.configuration_schema, configuration)
            plans.append((self._view(row, entry, configuration), plan, secrets))
        return plans

    # -- internals ------------------------------------------------------------------------------

    def _install_job(self, installation_id: str) -> Any:
        async def job() -> None:
            await self._install(installation_id)

        return job

    async def _install(self, installation_id: str) -> None:
        row = await self.store.get(installation_id)
        if row is None:
            return  # uninstalled while queued
        entry = self.store.entry(row)
        reporter = ProgressReporter(
            self._events, row.tenant_id, row.id, row.server_name,
            expected_s=expected_install_s(entry),
        )  # fmt: skip
        try:
            await reporter(5, "Validating configuration")
            if row.package_key and entry.packages:
                await self.installer.install(entry.packages[0], reporter, user=row.id)
            self._workdir(row.id).mkdir(parents=True, exist_ok=True)
            await self.store.record_status(row.id, "installed", None)
            if row.auto_start:
                await reporter(90, "Starting the server")
                await self._start_row(row)
            await reporter(100, "Installation complete")
        except Exception as exc:
            message = self._redactor(str(exc))[:2000]
            log.warning("installing MCP server %s failed: %s", row.server_name, message)
            await self.store.record_status(row.id, "failed", message)
            await reporter(100, f"Installation failed: {message[:200]}", failed=True)

    async def _start_row(self, row: McpInstallationRow, *, restart: bool = False) -> None:
        async with self.supervisor.lock(row.tenant_id, row.server_name):
            if self.supervisor.get(row.tenant_id, row.server_name) is not None:
                if not restart:
                    return
                await self.supervisor.discard(row.tenant_id, row.server_name)
            entry = self.store.entry(row)
            configuration = self.store.configuration(row)
            plan = await self._plan(row, entry, configuration)
            home = self._home(row, entry)
            # a few files and cgroup directories: off the loop
            sandboxed = await asyncio.to_thread(self.sandbox.wrap, row.id, entry, plan, home)
            await self.supervisor.launch(
                row.tenant_id,
                row.id,
                row.server_name,
                plan,
                secrets=collect_secrets(entry.configuration_schema, configuration),
                call_timeout_s=call_timeout(configuration, self.settings.call_timeout_s),
                sandboxed=sandboxed,
            )

    async def _plan(
        self, row: McpInstallationRow, entry: CatalogEntry, configuration: dict[str, Any]
    ) -> LaunchPlan:
        return await checked_plan(
            entry,
            configuration,
            home=self._home(row, entry),
            workdir=self._workdir(row.id),
            allow_private_urls=self.settings.allow_private_urls,
        )

    def _home(self, row: McpInstallationRow, entry: CatalogEntry) -> PackageHome | None:
        return self.installer.home(entry.packages[0]) if row.package_key else None

    async def _session(self, principal: Principal, server_name: str) -> McpSession:
        # the hot path: a running session answers without touching the database
        session = self.supervisor.get(principal.tenant_id, server_name)
        if session is not None:
            return session
        row = await self.store.named(principal.tenant_id, server_name)
        if row.auto_start and row.status in RESUMABLE:
            # installed through another replica, or while this process was down: each
            # process holds its own sessions, so this one starts the server as a restart would
            await self._start_here(row)
        return self.supervisor.running(row.tenant_id, row.server_name, row.status)

    async def _start_here(self, row: McpInstallationRow) -> None:
        """Start an installed server in this process, its package installed here first when
        this machine does not have it (a replica with a data directory of its own)."""
        entry = self.store.entry(row)
        if row.package_key and entry.packages:
            await self.installer.install(entry.packages[0], _quietly, user=row.id)
        self._workdir(row.id).mkdir(parents=True, exist_ok=True)
        await self._start_row(row)

    def _view(
        self, row: McpInstallationRow, entry: CatalogEntry, configuration: dict[str, Any]
    ) -> Installation:
        session = self.supervisor.get(row.tenant_id, row.server_name)
        isolation = session.isolation if session else self.sandbox.expected(entry, configuration)
        return installation_view(row, entry, configuration, session, isolation=isolation)

    def _remember_secrets(self, entry: CatalogEntry, configuration: dict[str, Any]) -> None:
        for secret in collect_secrets(entry.configuration_schema, configuration):
            self._redactor.add(secret)

    def _workdir(self, installation_id: str) -> Path:
        return self.settings.root / installation_id
