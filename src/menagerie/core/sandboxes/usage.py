"""The usage a tier is measured by, per tenant and calendar month (UTC)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.clock import as_utc, utcnow
from menagerie.core.sandboxes.models import LIVE, TierLimits, UsageReport
from menagerie.core.sandboxes.tables import SandboxRow, SandboxUsageRow


def month(moment: datetime) -> tuple[datetime, datetime]:
    """The calendar month holding `moment`: its first instant and its last second."""
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following - timedelta(seconds=1)


async def runtime_seconds(session: AsyncSession, tenant_id: str, since: datetime) -> float:
    """Closed runs in the ledger since `since`, plus the running part of open runs."""
    closed = await session.scalar(
        select(func.coalesce(func.sum(SandboxUsageRow.quantity), 0.0)).where(
            SandboxUsageRow.tenant_id == tenant_id,
            SandboxUsageRow.kind == "runtime",
            SandboxUsageRow.at >= since,
        )
    )
    now = utcnow()
    running = await session.scalars(
        select(SandboxRow.started_at).where(
            SandboxRow.tenant_id == tenant_id,
            SandboxRow.status.in_(("running", "stopping")),
            SandboxRow.started_at.is_not(None),
        )
    )
    open_runs = sum(
        max((now - max(as_utc(started), since)).total_seconds(), 0.0)
        for started in running.all()
        if started is not None
    )
    return float(closed or 0.0) + open_runs


async def report(
    session: AsyncSession, tenant_id: str, tier: str, limits: TierLimits
) -> UsageReport:
    start, end = month(utcnow())
    active = await session.scalar(
        select(func.count())
        .select_from(SandboxRow)
        .where(
            SandboxRow.tenant_id == tenant_id,
            SandboxRow.status.in_(LIVE),
            SandboxRow.deleted_at.is_(None),
        )
    )
    created = await session.scalar(
        select(func.count())
        .select_from(SandboxRow)
        .where(SandboxRow.tenant_id == tenant_id, SandboxRow.created_at >= start)
    )
    executions = await session.scalar(
        select(func.count())
        .select_from(SandboxUsageRow)
        .where(
            SandboxUsageRow.tenant_id == tenant_id,
            SandboxUsageRow.kind == "execution",
            SandboxUsageRow.at >= start,
        )
    )
    seconds = await runtime_seconds(session, tenant_id, start)
    return UsageReport(
        tier=tier,
        period_start=start,
        period_end=end,
        active_sandboxes=active or 0,
        total_sandboxes_created=created or 0,
        runtime_hours=round(seconds / 3600, 4),
        total_executions=executions or 0,
        limits=limits,
    )
