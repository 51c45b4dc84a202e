"""Starting and stopping sandboxes: `pending -> running -> stopped`, idle stop, reclaim.

Metamorph waits for a start (`start_sandbox`); PodPlay answers `starting` and the worker
finishes it (`begin_start`), publishing each step's progress either way. A running sandbox
idle past its `timeoutMinutes` is stopped; one stopped past the retention is terminated.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.clock import utcnow
from menagerie.core.errors import Conflict, LimitReached, Unavailable
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.sandboxes.models import (
    Sandbox,
    Stopped,
)
from menagerie.core.sandboxes.state import SandboxBase
from menagerie.core.sandboxes.tables import SandboxRow, SandboxUsageRow

log = logging.getLogger(__name__)


class Lifecycle(SandboxBase):
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
            ended = [self._model(row) for row in rows]
        for row, sandbox in zip(rows, ended, strict=True):
            await self._end(row)
            await self._publish(sandbox, (sandbox.current_step or "Terminated",))
        return [row.id for row in rows]
