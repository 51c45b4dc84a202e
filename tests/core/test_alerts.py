"""Alerts raised by real measurements against their thresholds, published once, cleared when
the condition is gone, read only by the server's operator."""

from __future__ import annotations

import asyncio

import pytest

from menagerie.core.errors import Forbidden
from menagerie.core.identity.models import Principal
from menagerie.core.ops.alerts import ALERT_TOPIC, AlertMonitor, Thresholds
from menagerie.core.ops.stats import RequestStats
from menagerie.platform import Platform
from tests.utils.principals import admin, other_tenant

QUIET = Thresholds(cpu_percent=100, memory_percent=100, disk_percent=100, error_rate=1)


def monitor(platform: Platform, thresholds: Thresholds, stats: RequestStats) -> AlertMonitor:
    return AlertMonitor(
        platform.health,
        stats,
        platform.events,
        operator_tenant=platform.settings.default_tenant,
        thresholds=thresholds,
    )


async def test_a_measured_condition_raises_once_and_clears(started: Platform) -> None:
    alerts = monitor(
        started, Thresholds(cpu_percent=100, memory_percent=100, disk_percent=0), RequestStats()
    )
    subscription = await started.events.subscribe(ALERT_TOPIC)
    raised = await alerts.check()
    assert [(a.key, a.type, a.component) for a in raised] == [("disk", "resource", "system")]
    assert raised[0].message.startswith("High disk usage detected (")
    published = await asyncio.wait_for(anext(aiter(subscription)), timeout=5)
    assert published.payload["id"] == raised[0].id
    assert published.payload["tenant_id"] == started.settings.default_tenant

    assert await alerts.check() == []  # still holds: not raised again
    operator = admin(started)
    assert [a.id for a in alerts.active(operator)] == [raised[0].id]
    assert alerts.active(await other_tenant(started)) == []
    with pytest.raises(Forbidden):
        alerts.active(Principal(operator.tenant_id, "usr_plain", frozenset()))
    acknowledged = alerts.acknowledge(operator, raised[0].id)
    assert acknowledged is not None
    assert acknowledged.acknowledged is True

    alerts.thresholds = QUIET
    await alerts.check()
    assert alerts.active(operator) == []


async def test_server_errors_past_the_rate_raise_an_alert(started: Platform) -> None:
    stats = RequestStats()
    alerts = monitor(started, Thresholds(100, 100, 100, error_rate=0.05), stats)
    for status in [500] * 5 + [200] * 14:
        stats.started()
        stats.finished(0.01, status)
    assert await alerts.check() == []  # 19 requests say nothing yet
    stats.started()
    stats.finished(0.01, 200)
    [raised] = await alerts.check()
    assert (raised.key, raised.severity) == ("errors", "high")
    assert "25.0% of requests" in raised.message
