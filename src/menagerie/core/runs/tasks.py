"""Agent tasks: created, then running, then completed, failed or stopped.

Chat turns that an API reports as tasks (Crazy Gary's `POST /api/chat`) are recorded here
too; the worker that runs queued tasks builds on the same table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.chat.tables import ChatSessionRow
from menagerie.core.clock import utcnow
from menagerie.core.errors import Conflict, Invalid, NotFound
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.paging import check_page
from menagerie.core.runs.tables import TaskRow
from menagerie.storage.database import Database

Status = Literal["created", "running", "completed", "failed", "stopped"]
STATUSES: tuple[str, ...] = ("created", "running", "completed", "failed", "stopped")
PRIORITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
RESTARTABLE: frozenset[str] = frozenset({"created", "stopped", "failed"})
# "task": work asked for through /api/tasks; "chat": a chat turn an API reports as a task
KINDS: tuple[str, ...] = ("task", "chat")


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    tenant_id: str
    user_id: str
    kind: str
    title: str
    description: str
    agent_id: str | None
    model: str | None
    priority: str
    status: Status
    progress: int
    session_id: str | None
    result: Any
    error: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class TaskStats:
    total: int
    active: int
    completed: int
    failed: int
    average_completion_s: float | None  # None: no task has completed yet
    success_rate: float | None  # completed / (completed + failed); None before either


class TaskService:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(
        self,
        principal: Principal,
        *,
        title: str,
        description: str = "",
        kind: str = "task",
        agent_id: str | None = None,
        model: str | None = None,
        priority: str = "medium",
        status: Status = "created",
        session_id: str | None = None,
    ) -> Task:
        if not title.strip():
            raise Invalid("title must not be empty", field="title", received=title)
        if kind not in KINDS:
            raise Invalid(f"kind must be one of {', '.join(KINDS)}", field="kind", received=kind)
        if status not in STATUSES:
            raise Invalid(
                f"status must be one of {', '.join(STATUSES)}", field="status", received=status
            )
        if priority not in PRIORITIES:
            raise Invalid(
                f"priority must be one of {', '.join(PRIORITIES)}",
                field="priority",
                received=priority,
            )
        now = utcnow()
        row = TaskRow(
            id=new_id("task"),
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            kind=kind,
            title=title.strip()[:500],
            description=description,
            agent_id=agent_id,
            model=model,
            priority=priority,
            status=status,
            progress=0,
            created_at=now,
            updated_at=now,
            started_at=now if status == "running" else None,
            session_id=session_id,
        )
        async with self._db.session() as session:
            if session_id is not None:
                await _check_session(session, principal, session_id)
            session.add(row)
        return _task(row)

    async def finish(
        self,
        principal: Principal,
        task_id: str,
        *,
        result: Any = None,
        error: str | None = None,
        session_id: str | None = None,
        model: str | None = None,
    ) -> Task:
        """Completed with its result, or failed with its error."""
        async with self._db.session() as session:
            row = await self._row(session, principal, task_id)
            if session_id is not None:
                await _check_session(session, principal, session_id)
            now = utcnow()
            row.status = "failed" if error is not None else "completed"
            row.progress = 100 if error is None else row.progress
            row.result, row.error = result, error
            row.session_id = session_id or row.session_id
            row.model = model or row.model
            row.updated_at = row.completed_at = now
            return _task(row)

    async def begin(self, principal: Principal, task_id: str) -> Task:
        """`created` (or ended stopped or failed, to try again) to `running`."""
        async with self._db.session() as session:
            row = await self._row(session, principal, task_id)
            if row.status not in RESTARTABLE:
                raise Conflict(
                    f"task {task_id} is {row.status}: only created, stopped or failed tasks start",
                    reason="TASK_NOT_STARTABLE",
                    details={"status": row.status},
                )
            now = utcnow()
            row.status, row.progress, row.error, row.result = "running", 0, None, None
            row.started_at = row.updated_at = now
            row.completed_at = None
            return _task(row)

    async def advance(self, principal: Principal, task_id: str, progress: int) -> Task | None:
        """Progress of a running task; None once it is no longer running."""
        async with self._db.session() as session:
            row = await self._row(session, principal, task_id)
            if row.status != "running":
                return None
            row.progress = max(row.progress, min(99, progress))
            row.updated_at = utcnow()
            return _task(row)

    async def halt(self, principal: Principal, task_id: str, reason: str | None = None) -> Task:
        """Stopped on request: it keeps its progress, and says why when it was not the user."""
        async with self._db.session() as session:
            row = await self._row(session, principal, task_id)
            now = utcnow()
            row.status, row.error = "stopped", reason
            row.updated_at = row.completed_at = now
            return _task(row)

    async def stats(self, principal: Principal) -> TaskStats:
        """The caller's tasks by state, with the mean seconds from start to completion."""
        mine = (TaskRow.tenant_id == principal.tenant_id, TaskRow.user_id == principal.user_id)
        async with self._db.session() as session:
            counts = dict(
                (
                    await session.execute(
                        select(TaskRow.status, func.count()).where(*mine).group_by(TaskRow.status)
                    )
                ).all()
            )
            spans = (
                await session.execute(
                    select(TaskRow.started_at, TaskRow.completed_at).where(
                        *mine,
                        TaskRow.status == "completed",
                        TaskRow.started_at.is_not(None),
                        TaskRow.completed_at.is_not(None),
                    )
                )
            ).all()
        seconds = [(done - began).total_seconds() for began, done in spans]
        completed, failed = counts.get("completed", 0), counts.get("failed", 0)
        ended = completed + failed
        return TaskStats(
            total=sum(counts.values()),
            active=counts.get("running", 0),
            completed=completed,
            failed=failed,
            average_completion_s=round(sum(seconds) / len(seconds), 3) if seconds else None,
            success_rate=round(completed / ended, 4) if ended else None,
        )

    async def get(self, principal: Principal, task_id: str) -> Task:
        async with self._db.session() as session:
            return _task(await self._row(session, principal, task_id))

    async def list(
        self, principal: Principal, *, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[Task], int]:
        if status is not None and status not in STATUSES:
            raise Invalid(
                f"status must be one of {', '.join(STATUSES)}", field="status", received=status
            )
        check_page(limit, offset)
        conditions = [
            TaskRow.tenant_id == principal.tenant_id,
            TaskRow.user_id == principal.user_id,
        ]
        if status is not None:
            conditions.append(TaskRow.status == status)
        async with self._db.session() as session:
            total = await session.scalar(
                select(func.count()).select_from(TaskRow).where(*conditions)
            )
            rows = await session.scalars(
                select(TaskRow)
                .where(*conditions)
                .order_by(TaskRow.created_at.desc(), TaskRow.id)
                .limit(limit)
                .offset(offset)
            )
            return [_task(row) for row in rows], int(total or 0)

    async def _row(self, session: AsyncSession, principal: Principal, task_id: str) -> TaskRow:
        row = await session.scalar(
            select(TaskRow).where(TaskRow.id == task_id, TaskRow.tenant_id == principal.tenant_id)
        )
        if row is None or not (principal.is_admin or row.user_id == principal.user_id):
            raise NotFound(f"task {task_id} not found", reason="TASK_NOT_FOUND")
        return row


async def _check_session(session: AsyncSession, principal: Principal, session_id: str) -> None:
    """The foreign key only proves the chat session exists somewhere; a task may only point
    at one of the caller's own tenant, or a later read would leak another tenant's id."""
    owner = await session.scalar(
        select(ChatSessionRow.user_id).where(
            ChatSessionRow.id == session_id, ChatSessionRow.tenant_id == principal.tenant_id
        )
    )
    if owner is None or not (principal.is_admin or owner == principal.user_id):
        raise NotFound(
            f"chat session {session_id} not found",
            reason="SESSION_NOT_FOUND",
            details={"session_id": session_id},
        )


def _task(row: TaskRow) -> Task:
    return Task(
        id=row.id,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        kind=row.kind,
        title=row.title,
        description=row.description,
        agent_id=row.agent_id,
        model=row.model,
        priority=row.priority,
        status=row.status,  # type: ignore[arg-type]
        progress=row.progress,
        session_id=row.session_id,
        result=row.result,
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        completed_at=row.completed_at,
    )
