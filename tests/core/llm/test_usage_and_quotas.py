"""The usage ledger and quotas, on SQLite and PostgreSQL, through real routed calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from menagerie.core.clock import utcnow
from menagerie.core.errors import QuotaExceeded
from menagerie.core.llm.models import ChatMessage
from menagerie.core.llm.providers.offline import MODEL
from menagerie.core.llm.usage import UsageRecord
from menagerie.platform import Platform
from menagerie.settings import Settings

HELLO = (ChatMessage("user", "hello there, offline model"),)


@pytest.fixture
async def llm_platform(settings: Settings) -> AsyncIterator[Platform]:
    platform = Platform.build(
        settings.model_copy(update={"offline_token_delay_ms": 0, "llm_quotas": {"offline": 500}})
    )
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


async def test_every_call_lands_in_the_ledger(llm_platform: Platform) -> None:
    tenant = llm_platform.settings.default_tenant
    router = llm_platform.llm.router
    done = await router.complete(HELLO, tenant_id=tenant, user_id="u1")
    assert done.model_id == MODEL
    assert done.usage.output_tokens > 0
    summary = await llm_platform.llm.ledger.summary(tenant, "day")
    [row] = summary.models
    assert (row.model, row.provider, row.requests, row.errors) == (MODEL, "offline", 1, 0)
    assert row.total_tokens == done.usage.total_tokens
    assert row.avg_latency_ms > 0
    assert summary.total_requests == 1


async def test_summary_filters_by_period_model_and_tenant(llm_platform: Platform) -> None:
    ledger = llm_platform.llm.ledger
    tenant = llm_platform.settings.default_tenant
    old = utcnow() - timedelta(days=3)
    for model, when, outcome in (
        ("gpt-4o", None, "ok"),
        ("gpt-4o", None, "error"),
        ("gpt-4o", old, "ok"),
        ("claude-haiku-4-5", None, "ok"),
    ):
        ledger.record(
            UsageRecord(tenant, None, model, "p", 100, 50, 0.01, 20.0, outcome, None, when)
        )
    day = await ledger.summary(tenant, "day", "gpt-4o")
    assert [(m.model, m.requests, m.errors) for m in day.models] == [("gpt-4o", 2, 1)]
    assert day.models[0].error_rate == 0.5
    week = await ledger.summary(tenant, "week")
    assert {m.model: m.requests for m in week.models} == {"gpt-4o": 3, "claude-haiku-4-5": 1}
    assert round(week.total_cost, 6) == 0.04
    other = await ledger.summary("someone-else", "week")
    assert other.models == []


async def test_quota_refuses_before_calling_upstream(llm_platform: Platform) -> None:
    tenant = llm_platform.settings.default_tenant
    llm = llm_platform.llm
    used = 0
    while used < 500:
        done = await llm.router.complete(HELLO, tenant_id=tenant)
        used += done.usage.total_tokens
    calls_before = (await llm.ledger.summary(tenant)).total_requests
    with pytest.raises(QuotaExceeded) as caught:
        await llm.router.complete(HELLO, tenant_id=tenant)
    assert caught.value.reason == "INSUFFICIENT_QUOTA"
    assert caught.value.details["limit"] == 500
    # refused before any call: the ledger holds no new entry
    assert (await llm.ledger.summary(tenant)).total_requests == calls_before
    [quota] = await llm.quotas.report(tenant)
    assert quota.used >= 500
    assert quota.percentage >= 100


async def test_a_tenant_limit_overrides_the_default(llm_platform: Platform) -> None:
    tenant = llm_platform.settings.default_tenant
    quotas = llm_platform.llm.quotas
    await quotas.set_limit(tenant, "offline", 0)
    with pytest.raises(QuotaExceeded):
        await llm_platform.llm.router.complete(HELLO, tenant_id=tenant)
    await quotas.set_limit(tenant, "offline", None)
    assert (await quotas.limits(tenant))["offline"] == 500
    await llm_platform.llm.router.complete(HELLO, tenant_id=tenant)


async def test_queued_entries_survive_a_stop(settings: Settings) -> None:
    platform = Platform.build(settings.model_copy(update={"offline_token_delay_ms": 0}))
    await platform.start()
    tenant = platform.settings.default_tenant
    for _ in range(5):
        await platform.llm.router.complete(HELLO, tenant_id=tenant)
    await platform.stop()  # flushes what the writer had not written yet
    again = Platform.build(settings)
    await again.start()
    try:
        assert (await again.llm.ledger.summary(tenant)).total_requests == 5
    finally:
        await again.stop()


async def test_stopping_while_the_writer_flushes_loses_nothing(llm_platform: Platform) -> None:
    """Stop lands in the middle of the writer's periodic flushes: every entry is written."""
    ledger = llm_platform.llm.ledger
    tenant = llm_platform.settings.default_tenant
    for round_ in range(5):
        for _ in range(250):  # over one batch, so the writer is woken and flushing
            ledger.record(UsageRecord(tenant, None, "m", "p", 1, 1, 0.0, 1.0, "ok", None, None))
        await ledger.stop()
        await ledger.start()
        summary = await ledger.summary(tenant, "day", "m")
        assert summary.total_requests == 250 * (round_ + 1)
