"""The ledger's chart series: hours of a day, days of a week or month, summed by the database
on SQLite and PostgreSQL, for one tenant only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from menagerie.core.llm.usage import UsageRecord
from menagerie.platform import Platform
from tests.utils.principals import other_tenant

NOW = datetime(2026, 3, 10, 14, 25, tzinfo=UTC)


def call(
    tenant: str, at: datetime, tokens: int, cost: float, outcome: Literal["ok", "error"] = "ok"
) -> UsageRecord:
    return UsageRecord(
        tenant, None, "gpt-4o", "openai", tokens, tokens, cost, 5.0, outcome, created_at=at
    )


async def test_buckets_sum_the_ledger_by_hour_and_day(started: Platform) -> None:
    ledger = started.llm.ledger
    tenant = started.settings.default_tenant
    stranger = (await other_tenant(started)).tenant_id
    for record in (
        call(tenant, NOW - timedelta(minutes=20), 10, 0.25),  # this hour
        call(tenant, NOW - timedelta(minutes=5), 5, 0.5, "error"),  # this hour
        call(tenant, NOW - timedelta(hours=3), 7, 0.125),  # 11:00
        call(tenant, NOW - timedelta(hours=30), 100, 1.0),  # yesterday: the week, not the day
        call(tenant, NOW - timedelta(days=20), 1000, 2.0),  # the month only
        call(tenant, NOW - timedelta(days=40), 9999, 9.0),  # before every period
        call(stranger, NOW - timedelta(minutes=1), 50_000, 50.0),  # another tenant's
    ):
        ledger.record(record)

    day = await ledger.series(tenant, "day", now=NOW)
    assert (day.step, len(day.buckets)) == ("hour", 24)
    assert day.buckets[-1].start == datetime(2026, 3, 10, 14, tzinfo=UTC)
    assert day.buckets[0].start == datetime(2026, 3, 9, 15, tzinfo=UTC)
    now_bucket, eleven = day.buckets[-1], day.buckets[-4]
    assert (now_bucket.requests, now_bucket.errors, now_bucket.total_tokens) == (2, 1, 30)
    assert now_bucket.cost == 0.75
    assert (eleven.start.hour, eleven.total_tokens) == (11, 14)
    assert day.total_tokens == 44

    week = await ledger.series(tenant, "week", now=NOW)
    assert (week.step, len(week.buckets)) == ("day", 7)
    assert week.buckets[-1].start == datetime(2026, 3, 10, tzinfo=UTC)
    assert [b.total_tokens for b in week.buckets[-2:]] == [200, 44]
    assert week.total_tokens == 244

    month = await ledger.series(tenant, "month", now=NOW)
    assert len(month.buckets) == 30
    assert month.total_tokens == 2244
    assert month.total_cost == 3.875

    theirs = await ledger.series(stranger, "day", now=NOW)
    assert theirs.total_tokens == 100_000
