"""Orchestrations and their steps in the database."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.clock import utcnow
from menagerie.core.errors import NotFound
from menagerie.core.identity.models import Principal
from menagerie.core.orchestration.models import (
    FINISHED,
    Orchestration,
    StepSpec,
    StepState,
)
from menagerie.core.orchestration.tables import OrchestrationRow, OrchestrationStepRow
from menagerie.core.paging import check_page
from menagerie.storage.database import Database

HISTORY = 20  # the caller's latest finished steps of a tool that its estimates read


def _model(
    row: OrchestrationRow, steps: Iterable[OrchestrationStepRow], titles: dict[str, str]
) -> Orchestration:
    return Orchestration(
        id=row.id,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        run_id=row.run_id,
        status=row.status,  # type: ignore[arg-type]
        parallel=row.parallel,
        timeout_s=row.timeout_s,
        steps=tuple(
            StepState(
                number=step.number,
                tool=step.tool,
                name=titles.get(step.tool, step.tool.removeprefix("mcp:")),
                parameters=dict(step.parameters or {}),
                after=tuple(step.after or ()),
                status=step.status,  # type: ignore[arg-type]
                progress=step.progress,
                started_at=step.started_at,
                finished_at=step.finished_at,
                duration_s=step.duration_s,
                result=step.result,
                error=step.error,
            )
            for step in sorted(steps, key=lambda s: s.number)
        ),
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


class OrchestrationStore:
    def __init__(self, database: Database, titles: dict[str, str]) -> None:
        self._db = database
        self._titles = titles  # tool name -> a step's display name

    async def add(
        self,
        orchestration_id: str,
        principal: Principal,
        specs: Sequence[StepSpec],
        *,
        parallel: bool,
        timeout_s: float,
    ) -> Orchestration:
        row = OrchestrationRow(
            id=orchestration_id,
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            status="pending",
            parallel=parallel,
            timeout_s=timeout_s,
            created_at=utcnow(),
        )
        steps = [
            OrchestrationStepRow(
                orchestration_id=orchestration_id,
                number=spec.number,
                tool=spec.tool,
                parameters=spec.parameters,
                after=list(spec.after),
                status="pending",
                progress=0,
            )
            for spec in specs
        ]
        async with self._db.session() as session:
            session.add(row)
            await session.flush()
            session.add_all(steps)
        return _model(row, steps, self._titles)

    async def get(self, orchestration_id: str, principal: Principal | None = None) -> Orchestration:
        """The orchestration; with `principal`, only the caller's own (else not found)."""
        async with self._db.session() as session:
            row = await session.get(OrchestrationRow, orchestration_id)
            if row is None or (
                principal is not None
                and (row.tenant_id != principal.tenant_id or row.user_id != principal.user_id)
            ):
                raise NotFound(
                    f"orchestration {orchestration_id} not found",
                    reason="ORCHESTRATION_NOT_FOUND",
                    details={"orchestration_id": orchestration_id},
                )
            return await self._load(session, row)

    async def latest(self, principal: Principal) -> Orchestration | None:
        async with self._db.session() as session:
            row = await session.scalar(
                select(OrchestrationRow)
                .where(
                    OrchestrationRow.tenant_id == principal.tenant_id,
                    OrchestrationRow.user_id == principal.user_id,
                )
                .order_by(OrchestrationRow.created_at.desc(), OrchestrationRow.id.desc())
                .limit(1)
            )
            return None if row is None else await self._load(session, row)

    async def list(
        self, principal: Principal, *, limit: int = 20, offset: int = 0
    ) -> tuple[list[Orchestration], int]:
        """The caller's own orchestrations, newest first, and how many there are in all."""
        check_page(limit, offset, 100)
        mine = (
            OrchestrationRow.tenant_id == principal.tenant_id,
            OrchestrationRow.user_id == principal.user_id,
        )
        async with self._db.session() as session:
            total = await session.scalar(
                select(func.count()).select_from(OrchestrationRow).where(*mine)
            )
            rows = (
                await session.scalars(
                    select(OrchestrationRow)
                    .where(*mine)
                    .order_by(OrchestrationRow.created_at.desc(), OrchestrationRow.id.desc())
                    .limit(limit)
                    .offset(offset)
                )
            ).all()
            # every listed orchestration's steps in one query, not one per orchestration
            steps: dict[str, list[OrchestrationStepRow]] = {row.id: [] for row in rows}
            if rows:
                found = await session.scalars(
                    select(OrchestrationStepRow).where(
                        OrchestrationStepRow.orchestration_id.in_(list(steps))
                    )
                )
                for step in found:
                    steps[step.orchestration_id].append(step)
            listed = [_model(row, steps[row.id], self._titles) for row in rows]
        return listed, int(total or 0)

    async def _load(self, session: AsyncSession, row: OrchestrationRow) -> Orchestration:
        steps = await session.scalars(
            select(OrchestrationStepRow).where(OrchestrationStepRow.orchestration_id == row.id)
        )
        return _model(row, steps.all(), self._titles)

    async def update(self, orchestration_id: str, **values: Any) -> None:
        async with self._db.session() as session:
            await session.execute(
                update(OrchestrationRow)
                .where(OrchestrationRow.id == orchestration_id)
                .values(**values)
            )

    async def begin(self, orchestration_id: str) -> None:
        """Running; steps a lost attempt left running start again (completed ones stay)."""
        async with self._db.session() as session:
            row = await session.get(OrchestrationRow, orchestration_id)
            assert row is not None
            row.status = "running"
            row.started_at = row.started_at or utcnow()
            await session.execute(
                update(OrchestrationStepRow)
                .where(
                    OrchestrationStepRow.orchestration_id == orchestration_id,
                    OrchestrationStepRow.status == "running",
                )
                .values(status="pending", progress=0, started_at=None)
            )

    async def step(self, orchestration_id: str, number: int, **values: Any) -> None:
        async with self._db.session() as session:
            await session.execute(
                update(OrchestrationStepRow)
                .where(
                    OrchestrationStepRow.orchestration_id == orchestration_id,
                    OrchestrationStepRow.number == number,
                )
                .values(**values)
            )

    async def close(
        self,
        orchestration_id: str,
        *,
        running: tuple[str, str],
        pending: tuple[str, str],
    ) -> None:
        """Steps not finished end: running ones as `running` (status, error), pending ones
        as `pending` says."""
        now = utcnow()
        async with self._db.session() as session:
            steps = await session.scalars(
                select(OrchestrationStepRow).where(
                    OrchestrationStepRow.orchestration_id == orchestration_id,
                    OrchestrationStepRow.status.not_in(FINISHED),
                )
            )
            for step in steps:
                status, error = running if step.status == "running" else pending
                if step.status == "running" and step.started_at is not None:
                    step.duration_s = round((now - step.started_at).total_seconds(), 3)
                    step.finished_at = now
                step.status, step.error = status, error

    async def durations(
        self, principal: Principal, tools: Iterable[str], *, before: datetime
    ) -> dict[str, float]:
        """The mean seconds of the caller's latest completed steps of each tool."""
        means: dict[str, float] = {}
        async with self._db.session() as session:
            for tool in set(tools):
                seconds = list(
                    await session.scalars(
                        select(OrchestrationStepRow.duration_s)
                        .join(
                            OrchestrationRow,
                            OrchestrationRow.id == OrchestrationStepRow.orchestration_id,
                        )
                        .where(
                            OrchestrationRow.tenant_id == principal.tenant_id,
                            OrchestrationRow.user_id == principal.user_id,
                            OrchestrationRow.created_at < before,
                            OrchestrationStepRow.tool == tool,
                            OrchestrationStepRow.status == "completed",
                            OrchestrationStepRow.duration_s.is_not(None),
                        )
                        .order_by(OrchestrationStepRow.finished_at.desc())
                        .limit(HISTORY)
                    )
                )
                if seconds:
                    means[tool] = sum(seconds) / len(seconds)
        return means
