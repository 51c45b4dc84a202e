"""What every part of the sandbox service shares: its state, rows, workspaces, events.

The service is split by what it does (`service.py` records, `lifecycle.py` starting and
stopping, `commands.py` commands and files); this base holds the state and helpers they use.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from opentelemetry.trace import NoOpTracer, Tracer
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.clock import utcnow
from menagerie.core.crypto import SecretBox
from menagerie.core.errors import Conflict, NotFound, Unavailable
from menagerie.core.events import EventBus
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.runs.worker import InProcessWorker
from menagerie.core.sandboxes.backends.base import Backend, BackendStatus, ExecRequest, Limits
from menagerie.core.sandboxes.events import SandboxStatusChanged
from menagerie.core.sandboxes.models import (
    Sandbox,
)
from menagerie.core.sandboxes.records import sandbox_of
from menagerie.core.sandboxes.settings import SandboxSettings
from menagerie.core.sandboxes.tables import SandboxRow, SandboxUsageRow
from menagerie.core.sandboxes.usage import month, runtime_seconds
from menagerie.storage.batches import BatchWriter
from menagerie.storage.database import Database

StopHook = Callable[[str], Awaitable[None]]
# (outcome: ok | failed | timeout, seconds): told of every command run in a sandbox
ExecListener = Callable[[str, float], None]
log = logging.getLogger(__name__)


class SandboxBase:
    def __init__(
        self,
        database: Database,
        secrets_box: SecretBox,
        events: EventBus,
        worker: InProcessWorker,
        backend: Backend,
        settings: SandboxSettings,
        *,
        tracer: Tracer | None = None,
    ) -> None:
        self._db = database
        self._tracer: Tracer = tracer or NoOpTracer()  # a span per command
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
        self._exec_listeners: list[ExecListener] = []
        # the sandboxes running now, as their status changes are published (metrics read it)
        self.running_ids: set[str] = set()

    def on_exec(self, listener: ExecListener) -> None:
        self._exec_listeners.append(listener)

    def _executed(self, outcome: str, seconds: float) -> None:
        for listener in self._exec_listeners:
            try:
                listener(outcome, seconds)
            except Exception:  # a listener's fault is never the command's
                log.exception("sandbox exec listener failed")

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

    async def _end(self, row: SandboxRow) -> None:
        """A sandbox that will never run again: its terminals, processes and files go."""
        for hook in self._stop_hooks:
            await hook(row.id)
        await self._release(row)
        await asyncio.to_thread(shutil.rmtree, self._workspace(row), True)

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
        if sandbox.status == "running":
            self.running_ids.add(sandbox.id)
        else:
            self.running_ids.discard(sandbox.id)
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
