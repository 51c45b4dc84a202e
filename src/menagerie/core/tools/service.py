"""MCP servers per tenant: install, configure, run, call, watch, uninstall.

Installations live in the database with their configuration sealed; the running sessions live
in this process (`McpSession`, one owner task each). Status changes and installation progress
go out on the event bus, where socket.io picks them up.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from menagerie.core.clock import utcnow
from menagerie.core.crypto import SecretBox
from menagerie.core.errors import Conflict, LimitReached, MenagerieError, NotFound
from menagerie.core.events.bus import EventBus
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.redact import Redactor
from menagerie.core.runs.worker import InProcessWorker
from menagerie.core.tools.arguments import validate_arguments
from menagerie.core.tools.catalog import Catalog
from menagerie.core.tools.configuration import (
    collect_secrets,
    merge_configuration,
)
from menagerie.core.tools.entries import entry_from_definition, entry_to_definition
from menagerie.core.tools.installer import PackageInstaller, package_key
from menagerie.core.tools.launch import build_plan
from menagerie.core.tools.models import (
    CatalogEntry,
    Installation,
    LaunchPlan,
    McpSettings,
    ToolInfo,
    ToolResult,
)
from menagerie.core.tools.policy import check_configuration
from menagerie.core.tools.progress import ProgressReporter
from menagerie.core.tools.session import McpSession, offline_error
from menagerie.core.tools.tables import McpInstallationRow
from menagerie.core.tools.views import installation_view, mask_secrets, status_payload
from menagerie.storage.database import Database

log = logging.getLogger(__name__)

STATUS_TOPIC = "mcp.server_status"
PROGRESS_TOPIC = "mcp.installation_progress"


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
    ) -> None:
        self.database = database
        self._secrets = secrets
        self._events = events
        self._worker = worker
        self._redactor = redactor
        self.catalog = catalog
        self.settings = settings
        self.installer = PackageInstaller(settings.packages_dir, index_url=settings.pip_index_url)
        self._sessions: dict[tuple[str, str], McpSession] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._status_lock = asyncio.Lock()  # status records land in the order they happened
        self._closing = False

    # -- lifecycle of the service ------------------------------------------------------------

    async def start(self) -> None:
        """Resume what was running before a restart, and finish interrupted installs."""
        self._closing = False
        async with self.database.session() as session:
            rows = (await session.scalars(select(McpInstallationRow))).all()
        for row in rows:
            if row.status == "installing":
                self._worker.submit(f"mcp-install-{row.id}", self._install_job(row.id))
            elif row.auto_start and row.status in ("running", "starting", "offline", "installed"):
                self._spawn(self._start_row(row))

    async def stop(self) -> None:
        # a server stopped by our own shutdown keeps its recorded status, so that the next
        # start resumes it; status writes already under way finish rather than being cut off
        self._closing = True
        sessions, self._sessions = list(self._sessions.values()), {}
        await asyncio.gather(*(s.stop() for s in sessions), return_exceptions=True)
        if self._background:
            await asyncio.wait(list(self._background), timeout=5)
        for task in list(self._background):
            task.cancel()

    # -- the catalogue, per tenant ------------------------------------------------------------

    async def installed_names(self, principal: Principal) -> set[str]:
        async with self.database.session() as session:
            names = await session.scalars(
                select(McpInstallationRow.server_name).where(
                    McpInstallationRow.tenant_id == principal.tenant_id
                )
            )
            return set(names)

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
        check_configuration(principal, entry, configuration, {}, self.settings.allow_private_urls)
        package = entry.packages[0] if entry.packages and not configuration.get("command") else None
        row = McpInstallationRow(
            id=new_id("inst"),
            tenant_id=principal.tenant_id,
            server_name=entry.name,
            definition=entry_to_definition(entry) if stored_definition else None,
            configuration_sealed=self._secrets.seal_json(configuration),
            package_key=package_key(package) if package else None,
            auto_start=auto_start,
            status="installing",
        )
        async with self.database.session() as session:
            count = await session.scalar(
                select(func.count()).where(McpInstallationRow.tenant_id == principal.tenant_id)
            )
            if (count or 0) >= self.settings.max_installations:
                raise LimitReached(
                    f"at most {self.settings.max_installations} MCP servers per tenant",
                    reason="INSTALLATION_LIMIT",
                )
            existing = await session.scalar(self._row_query(principal, entry.name))
            if existing is not None:
                raise Conflict(f"{entry.name} is already installed", reason="ALREADY_INSTALLED")
            session.add(row)
        self._remember_secrets(entry, configuration)
        self._worker.submit(f"mcp-install-{row.id}", self._install_job(row.id))
        return self._view(row, entry, configuration)

    async def installations(self, principal: Principal) -> list[Installation]:
        rows = await self._rows(principal)
        return [self._view(row, self._entry(row), self._open(row)) for row in rows]

    async def installation(self, principal: Principal, server_name: str) -> Installation:
        row = await self._row(principal, server_name)
        return self._view(row, self._entry(row), self._open(row))

    async def uninstall(self, principal: Principal, server_name: str) -> None:
        async with self._lock(principal.tenant_id, server_name):
            row = await self._row(principal, server_name)
            session = self._sessions.pop((row.tenant_id, row.server_name), None)
            if session is not None:
                await session.stop()
            async with self.database.session() as db:
                await db.delete(await db.get(McpInstallationRow, row.id))
            shutil.rmtree(self._workdir(row.id), ignore_errors=True)
            entry = self._entry(row)
            if row.package_key and entry.packages:
                # the package copy goes with its last user, whichever tenant that was
                await self.installer.release(entry.packages[0], user=row.id)
        await self._publish_status(row.tenant_id, row.server_name, "uninstalled", None)

    async def configure(
        self, principal: Principal, server_name: str, configuration: dict[str, Any]
    ) -> tuple[Installation, bool]:
        """Store a new configuration; says whether the running server must restart for it."""
        async with self._lock(principal.tenant_id, server_name):
            row = await self._row(principal, server_name)
            entry = self._entry(row)
            current = self._open(row)
            merged = merge_configuration(current, configuration)
            check_configuration(principal, entry, merged, current, self.settings.allow_private_urls)
            changed = merged != current
            async with self.database.session() as db:
                stored = await db.get(McpInstallationRow, row.id)
                assert stored is not None
                stored.configuration_sealed = self._secrets.seal_json(merged)
                stored.updated_at = utcnow()
                row = stored
            self._remember_secrets(entry, merged)
        running = (row.tenant_id, row.server_name) in self._sessions
        return self._view(row, entry, merged), changed and running

    async def restart(self, principal: Principal, server_name: str) -> Installation:
        row = await self._row(principal, server_name)
        if row.status in ("installing", "failed"):
            raise Conflict(f"{server_name} is {row.status}", reason="NOT_RUNNABLE")
        await self._start_row(row, restart=True)
        return await self.installation(principal, server_name)

    async def stop_server(self, principal: Principal, server_name: str) -> Installation:
        row = await self._row(principal, server_name)
        session = self._sessions.pop((row.tenant_id, row.server_name), None)
        if session is not None:
            await session.stop()
        await self._set_status(row.id, "stopped", None)
        return await self.installation(principal, server_name)

    # -- tools ----------------------------------------------------------------------------------

    async def tools(self, principal: Principal, server_name: str) -> list[ToolInfo]:
        row = await self._row(principal, server_name)
        return list(self._running(row).tools)

    def cached_tools(self, tenant_id: str) -> list[ToolInfo]:
        """Every tool of the tenant's running servers, from the sessions' caches (no I/O)."""
        return [
            tool
            for (tenant, _), session in sorted(self._sessions.items())
            if tenant == tenant_id and session.state == "running"
            for tool in session.tools
        ]

    def sessions(self, tenant_id: str) -> list[McpSession]:
        return [s for (t, _), s in sorted(self._sessions.items()) if t == tenant_id]

    async def execute(
        self,
        principal: Principal,
        server_name: str,
        tool: str,
        arguments: dict[str, Any],
        *,
        timeout_s: float | None = None,
    ) -> ToolResult:
        # the hot path: a running session answers without touching the database
        session = self._sessions.get((principal.tenant_id, server_name))
        if session is None:
            session = self._running(await self._row(principal, server_name))
        info = session.tool(tool)
        if info is None:
            available = ", ".join(t.name for t in session.tools[:20])
            raise NotFound(
                f"{server_name} has no tool {tool!r}; it has: {available}", reason="TOOL_NOT_FOUND"
            )
        validate_arguments(tool, info.input_schema, arguments)
        result = await session.call_tool(
            tool, arguments, timeout_s=timeout_s or self.settings.call_timeout_s
        )
        # a server may echo what it was configured with (an environment dump, an error
        # quoting its URL): its own secrets never travel back out through a tool result
        if session.secrets:
            result = dataclasses.replace(
                result, content=mask_secrets(result.content, session.secrets)
            )
        return result

    async def overview(self) -> dict[str, Any]:
        """Servers online and installed across tenants, for health reports."""
        async with self.database.session() as session:
            total = await session.scalar(select(func.count()).select_from(McpInstallationRow))
        sessions = list(self._sessions.values())
        online = sum(1 for s in sessions if s.state == "running")
        checks = [s.last_check for s in sessions if s.last_check is not None]
        return {
            "status": "healthy" if online == len(sessions) else "degraded",
            "servers_online": online,
            "servers_total": total or 0,
            "last_sync": max(checks) if checks else None,
        }

    async def launch_plans(
        self, principal: Principal
    ) -> list[tuple[Installation, LaunchPlan | None, list[str]]]:
        """Each installation with how it is started and its secrets (for exports to redact)."""
        rows = await self._rows(principal)
        plans: list[tuple[Installation, LaunchPlan | None, list[str]]] = []
        for row in rows:
            entry, configuration = self._entry(row), self._open(row)
            running = self._sessions.get((row.tenant_id, row.server_name))
            plan = running.plan if running is not None else None
            if plan is None:
                with contextlib.suppress(MenagerieError):
                    plan = build_plan(
                        entry,
                        configuration,
                        home=self.installer.home(entry.packages[0]) if row.package_key else None,
                        workdir=self._workdir(row.id),
                        allow_private_urls=self.settings.allow_private_urls,
                    )
            secrets = collect_secrets(entry.configuration_schema, configuration)
            plans.append((self._view(row, entry, configuration), plan, secrets))
        return plans

    # -- internals ------------------------------------------------------------------------------

    def _install_job(self, installation_id: str) -> Any:
        async def job() -> None:
            await self._install(installation_id)

        return job

    async def _install(self, installation_id: str) -> None:
        async with self.database.session() as db:
            row = await db.get(McpInstallationRow, installation_id)
        if row is None:
            return  # uninstalled while queued
        entry = self._entry(row)
        reporter = ProgressReporter(
            self._events, PROGRESS_TOPIC, row.tenant_id, row.id, row.server_name,
            expected_s=45.0 if entry.packages else 3.0,
        )  # fmt: skip
        try:
            await reporter(5, "Validating configuration")
            if row.package_key and entry.packages:
                await self.installer.install(entry.packages[0], reporter, user=row.id)
            self._workdir(row.id).mkdir(parents=True, exist_ok=True)
            await self._set_status(row.id, "installed", None)
            if row.auto_start:
                await reporter(90, "Starting the server")
                await self._start_row(row)
            await reporter(100, "Installation complete")
        except Exception as exc:
            message = self._redactor(str(exc))[:2000]
            log.warning("installing MCP server %s failed: %s", row.server_name, message)
            await self._set_status(row.id, "failed", message)
            await reporter(100, f"Installation failed: {message[:200]}", failed=True)

    async def _start_row(self, row: McpInstallationRow, *, restart: bool = False) -> None:
        key = (row.tenant_id, row.server_name)
        async with self._lock(*key):
            old = self._sessions.pop(key, None)
            if old is not None:
                if not restart:
                    self._sessions[key] = old
                    return
                await old.stop()
            entry = self._entry(row)
            configuration = self._open(row)
            home = self.installer.home(entry.packages[0]) if row.package_key else None
            plan = build_plan(
                entry,
                configuration,
                home=home,
                workdir=self._workdir(row.id),
                allow_private_urls=self.settings.allow_private_urls,
            )
            session = McpSession(
                row.server_name,
                plan,
                redactor=self._redactor,
                connect_timeout_s=self.settings.connect_timeout_s,
                health_interval_s=self.settings.health_interval_s,
                on_change=lambda s, row_id=row.id, tenant=row.tenant_id: self._changed(
                    tenant, row_id, s
                ),
            )
            session.secrets = collect_secrets(entry.configuration_schema, configuration)
            self._sessions[key] = session
            await session.start()

    def _changed(self, tenant_id: str, row_id: str, session: McpSession) -> None:
        if self._closing:
            return
        status = {"starting": "starting", "running": "running", "offline": "offline"}.get(
            session.state, "stopped"
        )
        error, checked = session.error, session.last_check

        async def record() -> None:
            async with self._status_lock:
                await self._set_status(row_id, status, error, checked)
                await self._publish_status(tenant_id, session.name, status, session)

        self._spawn(record())

    async def _publish_status(
        self, tenant_id: str, name: str, status: str, session: McpSession | None
    ) -> None:
        payload = {"tenant_id": tenant_id, "servers": [status_payload(name, status, session)]}
        with contextlib.suppress(Exception):  # a bus outage must not break the server itself
            await self._events.publish(STATUS_TOPIC, payload)

    async def _set_status(
        self, row_id: str, status: str, error: str | None, checked: Any = None
    ) -> None:
        async with self.database.session() as db:
            row = await db.get(McpInstallationRow, row_id)
            if row is None:
                return
            row.status = status
            row.error = error
            row.updated_at = utcnow()
            if checked is not None:
                row.last_health_check = checked

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _running(self, row: McpInstallationRow) -> McpSession:
        session = self._sessions.get((row.tenant_id, row.server_name))
        if session is None:
            raise offline_error(row.server_name, f"it is {row.status}")
        return session

    def _view(
        self, row: McpInstallationRow, entry: CatalogEntry, configuration: dict[str, Any]
    ) -> Installation:
        session = self._sessions.get((row.tenant_id, row.server_name))
        return installation_view(row, entry, configuration, session)

    def _entry(self, row: McpInstallationRow) -> CatalogEntry:
        if row.definition:
            return entry_from_definition(row.definition)
        return self.catalog.get(row.server_name)

    def _open(self, row: McpInstallationRow) -> dict[str, Any]:
        value = self._secrets.open_json(row.configuration_sealed)
        return value if isinstance(value, dict) else {}

    def _remember_secrets(self, entry: CatalogEntry, configuration: dict[str, Any]) -> None:
        for secret in collect_secrets(entry.configuration_schema, configuration):
            self._redactor.add(secret)

    def _workdir(self, installation_id: str) -> Path:
        return self.settings.root / installation_id

    async def _rows(self, principal: Principal) -> list[McpInstallationRow]:
        async with self.database.session() as session:
            rows = await session.scalars(
                select(McpInstallationRow)
                .where(McpInstallationRow.tenant_id == principal.tenant_id)
                .order_by(McpInstallationRow.installed_at, McpInstallationRow.server_name)
            )
            return list(rows)

    def _row_query(self, principal: Principal, server_name: str) -> Any:
        return select(McpInstallationRow).where(
            McpInstallationRow.tenant_id == principal.tenant_id,
            McpInstallationRow.server_name == server_name,
        )

    async def _row(self, principal: Principal, server_name: str) -> McpInstallationRow:
        async with self.database.session() as session:
            row = await session.scalar(self._row_query(principal, server_name))
        if row is None:
            raise NotFound(f"{server_name} is not installed", reason="SERVER_NOT_INSTALLED")
        return row

    def _lock(self, tenant_id: str, server_name: str) -> asyncio.Lock:
        return self._locks.setdefault((tenant_id, server_name), asyncio.Lock())
