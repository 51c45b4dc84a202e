"""Sandboxes: their lifecycle, commands and files, under the tier's limits.

A sandbox is a workspace directory plus the backend that runs commands in it. Its lifecycle
is `pending -> running -> stopped`, and `terminated` once deleted; a running sandbox left idle
for its `timeoutMinutes` is stopped. Every run's seconds and every execution land in the
usage ledger that the tier's limits are measured against. Callers see only their own
sandboxes: another user's, or another tenant's, is not found.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shlex
import shutil
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.clock import utcnow
from menagerie.core.crypto import SecretBox
from menagerie.core.errors import Conflict, Forbidden, Invalid, LimitReached, NotFound, Unavailable
from menagerie.core.events import EventBus
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.paging import check_page
from menagerie.core.runs.worker import InProcessWorker
from menagerie.core.sandboxes import paths, templates, validation
from menagerie.core.sandboxes.backends.base import Backend, BackendStatus, ExecRequest, Limits
from menagerie.core.sandboxes.events import SandboxStatusChanged
from menagerie.core.sandboxes.models import (
    LIVE,
    STATUSES,
    AgentAttachment,
    Deleted,
    ExecResult,
    FileResult,
    FileWrite,
    Sandbox,
    SandboxRequest,
    Stopped,
    UsageReport,
)
from menagerie.core.sandboxes.records import sandbox_of
from menagerie.core.sandboxes.settings import SandboxSettings
from menagerie.core.sandboxes.tables import SandboxRow, SandboxUsageRow
from menagerie.core.sandboxes.usage import month, report, runtime_seconds
from menagerie.storage.batches import BatchWriter
from menagerie.storage.database import Database

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_MS = 30_000  # seed 003
MAX_COMMAND = 8192
StopHook = Callable[[str], Awaitable[None]]


class SandboxService:
    def __init__(
        self,
        database: Database,
        secrets_box: SecretBox,
        events: EventBus,
        worker: InProcessWorker,
        backend: Backend,
        settings: SandboxSettings,
    ) -> None:
        self._db = database
        self._box = secrets_box
        self._events = events
        self._worker = worker
        self.backend = backend
        self.settings = settings
        self._backend_status: BackendStatus = backend.status()
        self._reaper: asyncio.Task[None] | None = None
        self._stop_hooks: list[StopHook] = []  # terminals close with their sandbox
        self._start_seconds: list[float] = []  # measured starts, for PodPlay's estimates
        self._ledger = BatchWriter(database, SandboxUsageRow.__table__, name="sandbox-usage")
        # executions not yet counted on their sandbox: id -> (how many, the latest)
        self._activity: dict[str, tuple[int, datetime]] = {}

    # --- service lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        self.settings.root.mkdir(parents=True, exist_ok=True)
        await self._ledger.start()
        self._backend_status = await self.backend.self_test()
        if not self._backend_status.available:
            log.warning("sandbox backend %s unavailable: %s", self.backend.name, self.status.reason)
        self._reaper = asyncio.create_task(self._reap_idle(), name="sandbox-reaper")

    async def stop(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        await self._flush_activity()
        await self._ledger.stop()

    @property
    def status(self) -> BackendStatus:
        """The backend, whether it works here, and how each limit holds."""
        return self._backend_status

    def on_stop(self, hook: StopHook) -> None:
        self._stop_hooks.append(hook)

    def estimated_start_s(self) -> float:
        """The slowest of the recent starts measured in this process (0 before the first)."""
        return max(self._start_seconds, default=0.0)

    # --- records -----------------------------------------------------------------------------

    async def create(self, principal: Principal, request: SandboxRequest) -> Sandbox:
        self._check_backend(principal)
        template = (
            templates.TEMPLATES["workspace"]
            if request.kind != "sandbox"
            else templates.template(request.template)
        )
        tier, limits = self.settings.tier, self.settings.limits
        vcpus = (
            request.vcpus if request.vcpus is not None else min(template.vcpus, limits.max_vcpus)
        )
        memory = (
            request.memory_mb
            if request.memory_mb is not None
            else min(template.memory_mb, limits.max_memory_mb)
        )
        timeout = (
            request.timeout_minutes
            if request.timeout_minutes is not None
            else min(template.timeout_minutes, limits.max_timeout_minutes)
        )
        validation.sizes(
            vcpus=vcpus, memory_mb=memory, timeout_minutes=timeout, tier=tier, limits=limits
        )
        name = validation.name(request.name)
        runtime = templates.runtime(request.runtime or template.runtime)
        environment = validation.environment(request.environment)
        workdir = validation.working_directory(
            request.working_directory or template.working_directory
        )
        now = utcnow()
        uid = self.settings.uid_base + secrets.randbelow(1_000_000) if os.geteuid() == 0 else None
        row = SandboxRow(
            id=new_id("sandbox", 20),
            tenant_id=principal.tenant_id,
            owner_id=principal.user_id,
            name=name,
            template=request.template or template.name,
            kind=request.kind,
            backend=self.backend.name,
            status="pending",
            runtime=runtime,
            vcpus=vcpus,
            memory_mb=memory,
            timeout_minutes=timeout,
            disk_mb=request.disk_mb or template.disk_mb,
            environment_sealed=self._box.seal_json(environment) if environment else None,
            working_directory=workdir,
            network=template.network,
            allowed_commands=(
                list(template.allowed_commands) if template.allowed_commands else None
            ),
            packages=list(request.packages),
            uid=uid,
            agent_config=None,
            created_at=now,
            runtime_seconds=0.0,
            executions=0,
            progress=0,
            current_step=None,
        )
        async with self._db.session() as session:
            active = await session.scalar(
                select(func.count())
                .select_from(SandboxRow)
                .where(
                    SandboxRow.tenant_id == principal.tenant_id,
                    SandboxRow.status.in_(LIVE),
                    SandboxRow.deleted_at.is_(None),
                )
            )
            if (active or 0) >= limits.max_sandboxes:
                raise LimitReached(
                    f"Maximum sandbox limit ({limits.max_sandboxes}) reached for your tier",
                    reason="SANDBOX_LIMIT_REACHED",
                    details={"currentCount": active or 0, "limit": limits.max_sandboxes},
                )
            session.add(row)
        await asyncio.to_thread(self._make_workspace, row)
        return self._model(row)

    async def list(
        self,
        principal: Principal,
        *,
        status: str | None = None,
        kind: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Sandbox], int]:
        """The caller's sandboxes, newest first, and how many match in all."""
        await self._flush_activity()
        check_page(limit, offset, 100)
        if status is not None and status not in STATUSES:
            raise Invalid(
                f"status must be one of {', '.join(STATUSES)}",
                field="status",
                received=status,
                expected=" | ".join(STATUSES),
            )
        where = [
            SandboxRow.tenant_id == principal.tenant_id,
            SandboxRow.owner_id == principal.user_id,
            SandboxRow.deleted_at.is_(None),
        ]
        if status is not None:
            where.append(SandboxRow.status == status)
        if kind is not None:
            where.append(SandboxRow.kind == kind)
        async with self._db.session() as session:
            total = await session.scalar(select(func.count()).select_from(SandboxRow).where(*where))
            rows = await session.scalars(
                select(SandboxRow)
                .where(*where)
                .order_by(SandboxRow.created_at.desc(), SandboxRow.id)
                .limit(limit)
                .offset(offset)
            )
            return [self._model(row) for row in rows.all()], total or 0

    async def get(self, principal: Principal, sandbox_id: str) -> Sandbox:
        await self._flush_activity()
        async with self._db.session() as session:
            return self._model(await self._row(session, principal, sandbox_id))

    async def usage(self, principal: Principal) -> UsageReport:
        """The tenant's use this calendar month against its tier."""
        await self._flush_activity()
        async with self._db.session() as session:
            return await report(
                session, principal.tenant_id, self.settings.tier, self.settings.limits
            )

    async def delete(self, principal: Principal, sandbox_id: str) -> Deleted:
        await self._flush_activity()
        async with self._db.session() as session:
            row = await self._row(session, principal, sandbox_id)
            if row.status in ("running", "starting", "stopping"):
                self._close_run(session, row)
            row.status = "terminated"
            row.deleted_at = utcnow()
            deleted = Deleted(row.id, row.deleted_at)
        await self._release(row)
        await asyncio.to_thread(shutil.rmtree, self._workspace(row), True)
        return deleted

    # --- lifecycle ---------------------------------------------------------------------------

    async def start_sandbox(self, principal: Principal, sandbox_id: str) -> Sandbox:
        """Start now and answer once it runs (Metamorph)."""
        await self._begin(principal, sandbox_id, "starting")
        sandbox = await self._finish_start(principal.tenant_id, sandbox_id)
        if sandbox.status != "running":
            raise Unavailable(
                f"the sandbox did not start: {sandbox.error_message}",
                service="sandbox",
                reason="SANDBOX_START_FAILED",
            )
        return sandbox

    async def begin_start(self, principal: Principal, sandbox_id: str) -> Sandbox:
        """Mark it starting and finish on the worker (PodPlay answers `starting`)."""
        sandbox = await self._begin(principal, sandbox_id, "starting")
        self._worker.submit(
            f"sandbox-start-{sandbox_id}",
            lambda: self._finish_start(principal.tenant_id, sandbox_id),
        )
        return sandbox

    async def stop_sandbox(self, principal: Principal, sandbox_id: str) -> Stopped:
        await self._begin(principal, sandbox_id, "stopping")
        return await self._finish_stop(principal.tenant_id, sandbox_id)

    async def begin_stop(self, principal: Principal, sandbox_id: str) -> Sandbox:
        sandbox = await self._begin(principal, sandbox_id, "stopping")
        self._worker.submit(
            f"sandbox-stop-{sandbox_id}",
            lambda: self._finish_stop(principal.tenant_id, sandbox_id),
        )
        return sandbox

    async def _begin(self, principal: Principal, sandbox_id: str, target: str) -> Sandbox:
        await self._flush_activity()
        async with self._db.session() as session:
            row = await self._row(session, principal, sandbox_id)
            if target == "starting":
                if row.status == "terminated":
                    raise Conflict(
                        "Cannot start a terminated sandbox. Please create a new one.",
                        reason="CANNOT_RESTART",
                    )
                if row.status in ("running", "starting"):
                    raise Conflict("Sandbox is already running", reason="ALREADY_RUNNING")
                if row.status == "stopping":
                    raise Conflict("Sandbox is stopping", reason="INVALID_STATE")
                self._check_backend(principal)
                used = await self._runtime_hours(session, row.tenant_id)
                if used >= self.settings.limits.max_runtime_hours:
                    raise LimitReached(
                        f"Runtime limit ({self.settings.limits.max_runtime_hours:g} hours) "
                        "reached for your tier this period",
                        reason="RUNTIME_LIMIT_REACHED",
                        details={
                            "runtimeHours": round(used, 4),
                            "limit": self.settings.limits.max_runtime_hours,
                        },
                    )
            elif row.status != "running":
                raise Conflict(f"Sandbox is {row.status}, not running", reason="INVALID_STATE")
            row.status = target
            row.progress = 0
            row.current_step = "Starting" if target == "starting" else "Stopping"
            sandbox = self._model(row)
        await self._publish(sandbox, ())
        return sandbox

    async def _finish_start(self, tenant_id: str, sandbox_id: str) -> Sandbox:
        began = time.perf_counter()
        logs: list[str] = []
        row = await self._load(tenant_id, sandbox_id)
        try:
            await self._step(row, 25, "Preparing the workspace", logs)
            await asyncio.to_thread(self._make_workspace, row)
            await self._step(row, 60, f"Checking the {row.backend} sandbox", logs)
            probe = await self.backend.run(self._request(row, ["pwd"], row.working_directory, 10))
            if probe.exit_code != 0:
                raise RuntimeError(probe.stderr.strip() or f"exit code {probe.exit_code}")
        except Exception as exc:
            log.warning("sandbox %s failed to start: %s", sandbox_id, exc)
            return await self._settle(
                tenant_id, sandbox_id, "stopped", f"failed to start: {exc}", logs
            )
        self._start_seconds = [*self._start_seconds[-9:], time.perf_counter() - began]
        return await self._settle(tenant_id, sandbox_id, "running", None, logs)

    async def _finish_stop(self, tenant_id: str, sandbox_id: str) -> Stopped:
        logs: list[str] = []
        row = await self._load(tenant_id, sandbox_id)
        await self._step(row, 50, "Stopping processes", logs)
        for hook in self._stop_hooks:
            await hook(sandbox_id)
        await self._release(row)
        async with self._db.session() as session:
            fresh = await session.get(SandboxRow, sandbox_id)
            assert fresh is not None
            seconds = self._close_run(session, fresh) if fresh.status == "stopping" else 0.0
        sandbox = await self._settle(tenant_id, sandbox_id, "stopped", None, logs)
        return Stopped(sandbox, seconds)

    def _close_run(self, session: AsyncSession, row: SandboxRow) -> float:
        """End the current run: its seconds go to the sandbox and the ledger."""
        now = utcnow()
        seconds = max((now - row.started_at).total_seconds(), 0.0) if row.started_at else 0.0
        row.runtime_seconds += seconds
        row.stopped_at = now
        session.add(
            SandboxUsageRow(
                id=new_id("sbu", 24),
                tenant_id=row.tenant_id,
                sandbox_id=row.id,
                kind="runtime",
                quantity=seconds,
                at=now,
            )
        )
        return seconds

    async def _settle(
        self, tenant_id: str, sandbox_id: str, status: str, error: str | None, logs: list[str]
    ) -> Sandbox:
        async with self._db.session() as session:
            row = await session.get(SandboxRow, sandbox_id)
            assert row is not None
            assert row.tenant_id == tenant_id
            if row.status == "terminated":  # deleted meanwhile
                return self._model(row)
            now = utcnow()
            if status == "running":
                row.started_at = now
                row.last_activity_at = now
                row.stopped_at = None
            row.status = status
            row.error_message = error
            row.progress = 100
            row.current_step = "Ready" if status == "running" else status.capitalize()
            sandbox = self._model(row)
        await self._publish(sandbox, tuple([*logs, error] if error else logs))
        return sandbox

    async def _step(self, row: SandboxRow, progress: int, step: str, logs: list[str]) -> None:
        logs.append(step)
        async with self._db.session() as session:
            fresh = await session.get(SandboxRow, row.id)
            if fresh is None:
                return
            fresh.progress = progress
            fresh.current_step = step
            sandbox = self._model(fresh)
        await self._publish(sandbox, tuple(logs))

    async def _reap_idle(self) -> None:
        while True:
            await asyncio.sleep(self.settings.idle_check_s)
            try:
                await self.stop_idle()
                await self.reclaim()
            except Exception:
                log.exception("stopping idle sandboxes failed")

    async def stop_idle(self) -> list[str]:
        """Stop every running sandbox idle past its timeout; returns their ids."""
        await self._flush_activity()
        now = utcnow()
        async with self._db.session() as session:
            rows = (
                await session.scalars(select(SandboxRow).where(SandboxRow.status == "running"))
            ).all()
            idle = [
                row
                for row in rows
                if (row.last_activity_at or row.created_at) + timedelta(minutes=row.timeout_minutes)
                <= now
            ]
            for row in idle:
                row.status = "stopping"
                row.current_step = f"Idle for {row.timeout_minutes} minutes"
        for row in idle:
            await self._finish_stop(row.tenant_id, row.id)
        return [row.id for row in idle]

    async def reclaim(self) -> list[str]:
        """Terminate sandboxes stopped for longer than the retention: their files go, their
        record stays (a start is then CANNOT_RESTART)."""
        cutoff = utcnow() - timedelta(days=self.settings.retention_days)
        async with self._db.session() as session:
            rows = (
                await session.scalars(
                    select(SandboxRow).where(
                        SandboxRow.status == "stopped",
                        SandboxRow.deleted_at.is_(None),
                        func.coalesce(SandboxRow.stopped_at, SandboxRow.created_at) <= cutoff,
                    )
                )
            ).all()
            for row in rows:
                row.status = "terminated"
                row.current_step = f"Stopped for {self.settings.retention_days:g} days"
        for row in rows:
            await self._release(row)
            await asyncio.to_thread(shutil.rmtree, self._workspace(row), True)
        return [row.id for row in rows]

    # --- commands and files ------------------------------------------------------------------

    async def execute(
        self,
        principal: Principal,
        sandbox_id: str,
        command: str,
        *,
        cwd: str | None = None,
        timeout_ms: int | None = None,
    ) -> ExecResult:
        row = await self._running(principal, sandbox_id)
        argv = self._parse(command, row)
        timeout = DEFAULT_TIMEOUT_MS if timeout_ms is None else timeout_ms
        if isinstance(timeout, bool) or not 1 <= timeout <= self.settings.max_exec_timeout_ms:
            raise Invalid(
                f"timeout must be between 1 and {self.settings.max_exec_timeout_ms} ms",
                field="timeout",
                received=timeout,
                expected=f"1-{self.settings.max_exec_timeout_ms}",
            )
        inner = self._cwd(row, cwd)
        outcome = await self.backend.run(self._request(row, argv, inner, timeout / 1000))
        await self._record_execution(row)
        return ExecResult(
            outcome.stdout,
            outcome.stderr,
            outcome.exit_code,
            round(outcome.duration_ms),
            outcome.timed_out,
            outcome.truncated,
        )

    async def write_files(
        self, principal: Principal, sandbox_id: str, files: list[FileWrite]
    ) -> list[FileResult]:
        """Write each file; one refused path fails only itself."""
        if not files or len(files) > self.settings.max_files:
            raise Invalid(
                f"files must hold 1 to {self.settings.max_files} files",
                field="files",
                received=len(files),
                expected=f"1-{self.settings.max_files} files",
            )
        async with self._db.session() as session:
            row = await self._row(session, principal, sandbox_id)
            if row.status == "terminated":
                raise Conflict("the sandbox is terminated", reason="INVALID_STATE")
            row.last_activity_at = utcnow()
        workspace = self._workspace(row)
        results = []
        for item in files:
            results.append(await asyncio.to_thread(self._write_one, row, workspace, item))
        return results

    def _write_one(self, row: SandboxRow, workspace: Path, item: FileWrite) -> FileResult:
        data = item.content.encode()
        if len(data) > min(self.settings.max_file_bytes, row.disk_mb * 1024 * 1024):
            return FileResult(item.path, False, f"larger than {self.settings.max_file_bytes} bytes")
        try:
            parts = paths.inside(item.path, mount_point=row.working_directory)
            paths.write_file(workspace, parts, data, uid=row.uid)
        except Invalid as error:
            return FileResult(item.path, False, error.message)
        except OSError as error:
            return FileResult(item.path, False, error.strerror or "could not be written")
        return FileResult(item.path, True)

    async def read_file(
        self, principal: Principal, sandbox_id: str, path: str, *, limit: int = 64_000
    ) -> bytes:
        async with self._db.session() as session:
            row = await self._row(session, principal, sandbox_id)
        parts = paths.inside(path, mount_point=row.working_directory)
        return await asyncio.to_thread(paths.read_file, self._workspace(row), parts, limit=limit)

    async def attach(
        self, principal: Principal, sandbox_id: str, session_id: str, config: dict[str, object]
    ) -> AgentAttachment:
        """Record the agent's chat session and settings on the sandbox."""
        async with self._db.session() as session:
            row = await self._row(session, principal, sandbox_id)
            if row.status == "terminated":
                raise Conflict("the sandbox is terminated", reason="INVALID_STATE")
            row.agent_session_id = session_id
            row.agent_config = dict(config)
            row.attached_at = utcnow()
            attachment = self._model(row).agent
        assert attachment is not None
        return attachment

    async def by_agent_session(self, principal: Principal, session_id: str) -> Sandbox | None:
        async with self._db.session() as session:
            row = await session.scalar(
                select(SandboxRow).where(
                    SandboxRow.tenant_id == principal.tenant_id,
                    SandboxRow.agent_session_id == session_id,
                    SandboxRow.deleted_at.is_(None),
                )
            )
            return self._model(row) if row is not None else None

    async def touch(self, tenant_id: str, sandbox_id: str) -> None:
        """Activity that is not an execution (a terminal's input) keeps it from idling out."""
        async with self._db.session() as session:
            row = await session.get(SandboxRow, sandbox_id)
            if row is not None and row.tenant_id == tenant_id:
                row.last_activity_at = utcnow()

    async def terminal_request(
        self, principal: Principal, sandbox_id: str, argv: list[str]
    ) -> ExecRequest:
        """What a terminal session runs: the same sandbox as `execute`, with no time limit but
        the idle timeout."""
        row = await self._running(principal, sandbox_id)
        return self._request(row, argv, row.working_directory, row.timeout_minutes * 60.0)

    # --- helpers -----------------------------------------------------------------------------

    def _check_backend(self, principal: Principal) -> None:
        status = self._backend_status
        if not status.available:
            raise Unavailable(
                f"the {status.name} sandbox backend is not available: {status.reason}",
                service="sandbox",
                reason="SANDBOX_BACKEND_UNAVAILABLE",
            )
        if (
            status.strength == "weak"
            and principal.tenant_id != self.settings.operator_tenant
            and not self.settings.allow_weak
        ):
            raise Unavailable(
                f"the {status.name} backend isolates nothing but resources; it serves only the "
                "operator's tenant unless MENAGERIE_SANDBOX_ALLOW_WEAK is set",
                service="sandbox",
                reason="SANDBOX_BACKEND_WEAK",
            )

    def _parse(self, command: str, row: SandboxRow) -> list[str]:
        if not isinstance(command, str) or not command.strip() or len(command) > MAX_COMMAND:
            raise Invalid(
                f"command must be text of 1 to {MAX_COMMAND} characters",
                field="command",
                received=command if isinstance(command, str) else None,
                expected="a command line",
                missing=not command,
            )
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise Invalid(
                f"command cannot be parsed: {exc}",
                field="command",
                received=command,
                expected="a command line (no shell syntax)",
            ) from None
        allowed = row.allowed_commands
        if allowed is not None and argv[0] not in allowed:
            raise Forbidden(
                f"Command not allowed. Allowed commands: {', '.join(allowed)}",
                reason="COMMAND_NOT_ALLOWED",
                details={"command": argv[0], "allowed": list(allowed)},
            )
        return argv

    def _cwd(self, row: SandboxRow, cwd: str | None) -> str:
        if cwd is None:
            return row.working_directory
        parts = paths.inside(cwd, mount_point=row.working_directory, field="cwd")
        paths.host_directory(self._workspace(row), parts)  # exists, and no link leads out
        return (
            "/".join([row.working_directory.rstrip("/"), *parts])
            if parts
            else (row.working_directory)
        )

    def _request(self, row: SandboxRow, argv: list[str], cwd: str, timeout_s: float) -> ExecRequest:
        environment: dict[str, str] = (
            self._box.open_json(row.environment_sealed) if row.environment_sealed else {}
        )
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": row.working_directory,
            "LANG": "C.UTF-8",
            **environment,
        }
        return ExecRequest(
            argv=argv,
            workspace=self._workspace(row),
            mount_point=row.working_directory,
            cwd=cwd,
            env=env,
            timeout_s=timeout_s,
            limits=Limits(
                memory_mb=row.memory_mb,
                vcpus=row.vcpus,
                max_processes=self.settings.max_processes,
                file_size_mb=row.disk_mb,
                output_bytes=self.settings.output_bytes,
            ),
            network=row.network,
            uid=row.uid,
            group=row.id,
        )

    async def _record_execution(self, row: SandboxRow) -> None:
        """Count an execution off the request path: a ledger row through the batch writer,
        and the sandbox's counter and last activity in the next `_flush_activity`."""
        now = utcnow()
        self._ledger.add(
            {
                "id": new_id("sbu", 24),
                "tenant_id": row.tenant_id,
                "sandbox_id": row.id,
                "kind": "execution",
                "quantity": 1.0,
                "at": now,
            }
        )
        count, _ = self._activity.get(row.id, (0, now))
        self._activity[row.id] = (count + 1, now)

    async def _flush_activity(self) -> None:
        """Write what `_record_execution` queued; every reader of counts calls it first."""
        await self._ledger.flush()
        pending, self._activity = self._activity, {}
        if not pending:
            return
        try:
            async with self._db.session() as session:
                for sandbox_id, (count, at) in pending.items():
                    await session.execute(
                        update(SandboxRow)
                        .where(SandboxRow.id == sandbox_id)
                        .values(executions=SandboxRow.executions + count, last_activity_at=at)
                    )
        except BaseException:
            # not written: counted again with the next flush
            for sandbox_id, (count, at) in pending.items():
                later, latest = self._activity.get(sandbox_id, (0, at))
                self._activity[sandbox_id] = (count + later, max(at, latest))
            raise

    async def _running(self, principal: Principal, sandbox_id: str) -> SandboxRow:
        async with self._db.session() as session:
            row = await self._row(session, principal, sandbox_id)
        if row.status != "running":
            raise Conflict(f"Sandbox is {row.status}; start it first", reason="INVALID_STATE")
        return row

    async def _row(
        self, session: AsyncSession, principal: Principal, sandbox_id: str
    ) -> SandboxRow:
        row = await session.get(SandboxRow, sandbox_id)
        if (
            row is None
            or row.tenant_id != principal.tenant_id
            or row.owner_id != principal.user_id
            or row.deleted_at is not None
        ):
            raise NotFound(f"sandbox {sandbox_id} not found", reason="SANDBOX_NOT_FOUND")
        return row

    async def _load(self, tenant_id: str, sandbox_id: str) -> SandboxRow:
        async with self._db.session() as session:
            row = await session.get(SandboxRow, sandbox_id)
        if row is None or row.tenant_id != tenant_id:
            raise NotFound(f"sandbox {sandbox_id} not found", reason="SANDBOX_NOT_FOUND")
        return row

    async def _runtime_hours(self, session: AsyncSession, tenant_id: str) -> float:
        start, _ = month(utcnow())
        return await runtime_seconds(session, tenant_id, start) / 3600

    async def _release(self, row: SandboxRow) -> None:
        try:
            await self.backend.release(row.id)
        except Exception:
            log.exception("releasing sandbox %s failed", row.id)

    def _workspace(self, row: SandboxRow) -> Path:
        return self.settings.root / row.tenant_id / row.id

    def _make_workspace(self, row: SandboxRow) -> None:
        tenant_dir = self.settings.root / row.tenant_id
        tenant_dir.mkdir(parents=True, exist_ok=True, mode=0o711)
        workspace = self._workspace(row)
        workspace.mkdir(exist_ok=True, mode=0o755)
        if row.uid is not None:
            os.chown(workspace, row.uid, row.uid)

    def _model(self, row: SandboxRow) -> Sandbox:
        environment = self._box.open_json(row.environment_sealed) if row.environment_sealed else {}
        return sandbox_of(row, environment)

    async def _publish(self, sandbox: Sandbox, logs: tuple[str, ...]) -> None:
        event = SandboxStatusChanged(
            tenant_id=sandbox.tenant_id,
            owner_id=sandbox.owner_id,
            sandbox_id=sandbox.id,
            kind=sandbox.kind,
            status=sandbox.status,
            progress=sandbox.progress,
            current_step=sandbox.current_step or sandbox.status,
            logs=logs,
            at=utcnow(),
        )
        await self._events.publish(event.topic, event.to_payload())
