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

from sqlalchemy import func, select

from menagerie.core.clock import utcnow
from menagerie.core.errors import Conflict, Invalid, LimitReached
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.paging import check_page
from menagerie.core.sandboxes import templates, validation
from menagerie.core.sandboxes.backends.base import BackendStatus
from menagerie.core.sandboxes.commands import Commands
from menagerie.core.sandboxes.lifecycle import Lifecycle
from menagerie.core.sandboxes.models import (
    LIVE,
    STATUSES,
    AgentAttachment,
    Deleted,
    Sandbox,
    SandboxRequest,
    UsageReport,
)
from menagerie.core.sandboxes.state import StopHook
from menagerie.core.sandboxes.tables import SandboxRow
from menagerie.core.sandboxes.usage import report

log = logging.getLogger(__name__)


class SandboxService(Lifecycle, Commands):
    async def start(self) -> None:
        self.settings.root.mkdir(parents=True, exist_ok=True)
        await self._ledger.start()
        # choosing the backend ran its self-test already; a backend untested or failing
        # (named explicitly, so not replaced) is tried once more now
        self._backend_status = self.backend.status()
        if not self._backend_status.available:
            self._backend_status = await self.backend.self_test()
        if not self._backend_status.available:
            log.warning("sandbox backend %s unavailable: %s", self.backend.name, self.status.reason)
        async with self._db.session() as session:
            running = select(SandboxRow.id).where(SandboxRow.status == "running")
            self.running_ids = set((await session.scalars(running)).all())
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
            sandbox = self._model(row)
        await self._end(row)
        await self._publish(sandbox, ("Deleted",))
        return deleted

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
