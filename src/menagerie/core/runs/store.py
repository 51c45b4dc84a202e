"""Runs in the database: the queue of record, claimed with conditional updates so that two
workers never both hold a run, on SQLite as on PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from menagerie.core.clock import utcnow
from menagerie.core.errors import NotFound
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.runs.models import PRIORITIES, Run, RunStatus, Step, priority_rank
from menagerie.core.runs.tables import RunRow
from menagerie.storage.database import Database

# queued runs looked at per claim: the best of these by priority, then tenant fairness
CLAIM_WINDOW = 200
CLAIM_TRIES = 5


def _run(row: RunRow) -> Run:
    return Run(
        id=row.id,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        kind=row.kind,
        subject_id=row.subject_id,
        priority=PRIORITIES[row.priority],
        status=row.status,  # type: ignore[arg-type]
        attempt=row.attempt,
        max_attempts=row.max_attempts,
        worker_id=row.worker_id,
        progress=row.progress,
        steps=tuple(Step(**step) for step in row.steps or []),
        arguments=dict(row.arguments or {}),
        result=row.result,
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
        finished_at=row.finished_at,
    )


class RunStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(
        self,
        principal: Principal,
        *,
        kind: str,
        subject_id: str | None,
        priority: str,
        arguments: dict[str, Any],
        max_attempts: int,
    ) -> Run:
        now = utcnow()
        row = RunRow(
            id=new_id("run"),
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            kind=kind,
            subject_id=subject_id,
            priority=priority_rank(priority),
            status="queued",
            attempt=0,
            max_attempts=max_attempts,
            cancel_requested=False,
            progress=0,
            steps=[],
            arguments={**arguments, "_roles": sorted(principal.roles)},
            created_at=now,
            kicked_at=now,
        )
        async with self._db.session() as session:
            session.add(row)
        return _run(row)

    async def get(self, run_id: str, tenant_id: str | None = None) -> Run:
        async with self._db.session() as session:
            row = await session.get(RunRow, run_id)
            if row is None or (tenant_id is not None and row.tenant_id != tenant_id):
                raise NotFound("run not found", reason="RUN_NOT_FOUND", details={"run_id": run_id})
            return _run(row)

    async def latest_for(self, subject_id: str) -> Run | None:
        async with self._db.session() as session:
            row = await session.scalar(
                select(RunRow)
                .where(RunRow.subject_id == subject_id)
                .order_by(RunRow.created_at.desc())
                .limit(1)
            )
            return _run(row) if row is not None else None

    async def claim(self, worker_id: str) -> Run | None:
        """The best queued run, now this worker's: highest priority first; among equals, the
        tenant with the fewest runs running, then the oldest."""
        for _ in range(CLAIM_TRIES):
            async with self._db.session() as session:
                running = dict(
                    (
                        await session.execute(
                            select(RunRow.tenant_id, func.count())
                            .where(RunRow.status == "running")
                            .group_by(RunRow.tenant_id)
                        )
                    ).all()
                )
                queued = (
                    await session.execute(
                        select(RunRow.id, RunRow.tenant_id, RunRow.priority, RunRow.created_at)
                        .where(RunRow.status == "queued")
                        .order_by(RunRow.priority.desc(), RunRow.created_at)
                        .limit(CLAIM_WINDOW)
                    )
                ).all()
            if not queued:
                return None
            # claimers racing for the same best run: each loser tries the next one down
            ranked = sorted(
                queued, key=lambda r: (-r.priority, running.get(r.tenant_id, 0), r.created_at)
            )
            for candidate in ranked:
                now = utcnow()
                async with self._db.session() as session:
                    claimed = await session.execute(
                        update(RunRow)
                        .where(RunRow.id == candidate.id, RunRow.status == "queued")
                        .values(
                            status="running",
                            worker_id=worker_id,
                            attempt=RunRow.attempt + 1,
                            started_at=now,
                            heartbeat_at=now,
                        )
                    )
                    if claimed.rowcount == 1:  # type: ignore[attr-defined]
                        row = await session.get(RunRow, candidate.id)
                        assert row is not None
                        return _run(row)
        return None

    async def beat(self, worker_id: str, run_ids: Sequence[str]) -> dict[str, str]:
        """Refresh this worker's runs' heartbeats; answers, for each of `run_ids` it should
        no longer run, why: `cancel` (asked to stop) or `lost` (no longer its run)."""
        if not run_ids:
            return {}
        async with self._db.session() as session:
            await session.execute(
                update(RunRow)
                .where(
                    RunRow.id.in_(run_ids),
                    RunRow.worker_id == worker_id,
                    RunRow.status == "running",
                )
                .values(heartbeat_at=utcnow())
            )
            rows = (
                await session.execute(
                    select(
                        RunRow.id, RunRow.worker_id, RunRow.status, RunRow.cancel_requested
                    ).where(RunRow.id.in_(run_ids))
                )
            ).all()
        verdicts: dict[str, str] = {}
        for row in rows:
            if row.worker_id != worker_id or row.status != "running":
                verdicts[row.id] = "lost"
            elif row.cancel_requested:
                verdicts[row.id] = "cancel"
        return verdicts

    async def report(self, run_id: str, worker_id: str, progress: int) -> None:
        async with self._db.session() as session:
            await session.execute(
                update(RunRow)
                .where(RunRow.id == run_id, RunRow.worker_id == worker_id)
                .values(progress=progress)
            )

    async def log_step(self, run_id: str, worker_id: str, step: Step) -> None:
        """Adds the step, or replaces the newest entry of the same name still running."""
        async with self._db.session() as session:
            row = await session.get(RunRow, run_id, with_for_update=True)
            if row is None or row.worker_id != worker_id:
                return
            steps = list(row.steps or [])
            for index in range(len(steps) - 1, -1, -1):
                if steps[index]["name"] == step.name and steps[index]["status"] == "running":
                    steps[index] = asdict(step)
                    break
            else:
                steps.append(asdict(step))
            row.steps = steps

    async def finish(
        self,
        run_id: str,
        worker_id: str | None,
        status: RunStatus,
        *,
        result: Any = None,
        error: str | None = None,
        expect: RunStatus = "running",
    ) -> Run | None:
        """Ends the run if it is still `expect` (and this worker's, when one is named);
        None when it was not (another worker or a cancel got there first)."""
        conditions = [RunRow.id == run_id, RunRow.status == expect]
        if worker_id is not None:
            conditions.append(RunRow.worker_id == worker_id)
        now = utcnow()
        values: dict[str, Any] = {"status": status, "finished_at": now, "error": error}
        if status == "completed":
            values.update(result=result, progress=100)
        async with self._db.session() as session:
            ended = await session.execute(update(RunRow).where(*conditions).values(**values))
            if ended.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = await session.get(RunRow, run_id)
            assert row is not None
            return _run(row)

    async def request_cancel(self, run_id: str) -> None:
        async with self._db.session() as session:
            await session.execute(
                update(RunRow)
                .where(RunRow.id == run_id, RunRow.status == "running")
                .values(cancel_requested=True)
            )

    async def requeue(self, run_id: str, *, worker_id: str | None, refund: bool) -> bool:
        """Back in the queue: its worker stopped (`refund`: not counted as an attempt) or was
        lost. Steps already completed stay in the log, so the next attempt skips them."""
        conditions = [RunRow.id == run_id, RunRow.status == "running"]
        if worker_id is not None:
            conditions.append(RunRow.worker_id == worker_id)
        values: dict[str, Any] = {"status": "queued", "worker_id": None, "kicked_at": utcnow()}
        if refund:
            values["attempt"] = RunRow.attempt - 1
        async with self._db.session() as session:
            moved = await session.execute(update(RunRow).where(*conditions).values(**values))
            return moved.rowcount == 1  # type: ignore[attr-defined]

    async def lapsed(self, older_than: timedelta) -> list[Run]:
        """Running runs whose worker has not beaten within `older_than`."""
        cutoff = utcnow() - older_than
        async with self._db.session() as session:
            rows = await session.scalars(
                select(RunRow).where(RunRow.status == "running", RunRow.heartbeat_at < cutoff)
            )
            return [_run(row) for row in rows]

    async def stale_queued(self, older_than: timedelta) -> list[str]:
        """Queued runs whose wake-up message may have been lost; marked as kicked again."""
        now = utcnow()
        cutoff = now - older_than
        async with self._db.session() as session:
            ids = list(
                await session.scalars(
                    select(RunRow.id)
                    .where(RunRow.status == "queued", RunRow.kicked_at < cutoff)
                    .limit(CLAIM_WINDOW)
                )
            )
            if ids:
                await session.execute(
                    update(RunRow).where(RunRow.id.in_(ids)).values(kicked_at=now)
                )
            return ids

    async def counts(self, since: datetime | None = None) -> dict[str, int]:
        async with self._db.session() as session:
            query = select(RunRow.status, func.count()).group_by(RunRow.status)
            if since is not None:
                query = query.where(RunRow.created_at >= since)
            return {status: count for status, count in (await session.execute(query)).all()}
