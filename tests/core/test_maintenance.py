"""Maintenance mode: stored in the database (every replica and a restart see it), cached for
a few seconds, followed at once through the bus, switched only by the operator's admins."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from menagerie.core.errors import Forbidden, Unavailable
from menagerie.core.identity.models import Principal
from menagerie.core.ops.maintenance import (
    MAINTENANCE_TOPIC,
    Maintenance,
    MaintenanceChanged,
)
from menagerie.platform import Platform
from tests.utils.principals import admin, other_tenant

BACK = datetime(2031, 6, 3, 2, 30, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def replica(platform: Platform, clock: Clock) -> Maintenance:
    """Another process on the same database (its bus not shared: it reads the database)."""
    return Maintenance(
        platform.database,
        platform.events,
        operator_tenant=platform.settings.default_tenant,
        refresh_s=3.0,
        clock=clock,
    )


async def test_on_refuses_affected_services_and_off_restores(started: Platform) -> None:
    maintenance = started.maintenance
    assert maintenance is not None
    await maintenance.check("chat")  # off by default
    subscription = await started.events.subscribe(MAINTENANCE_TOPIC)

    state = await maintenance.switch(
        admin(started),
        enabled=True,
        message="Scheduled maintenance for system upgrades",
        affected_services=["chat", "workspaces", "chat"],
        estimated_return=BACK,
    )
    assert state.active
    assert state.affected_services == ("chat", "workspaces")
    assert state.started_at is not None

    event = await subscription.get(within=5)
    assert event is not None
    changed = MaintenanceChanged.from_payload(event.payload)
    assert changed.active
    assert changed.estimated_return == BACK
    assert changed.tenant_id == started.settings.default_tenant

    with pytest.raises(Unavailable) as refused:
        await maintenance.check("chat")
    assert refused.value.reason == "MAINTENANCE"
    assert refused.value.details == {
        "service": "chat",
        "status": "maintenance",
        "estimated_return": "2031-06-03T02:30:00.000Z",
    }
    assert refused.value.message == "Scheduled maintenance for system upgrades"
    await maintenance.check("mcp_marketplace")  # not affected

    await maintenance.switch(admin(started), enabled=False)
    off = await subscription.get(within=5)
    assert off is not None
    assert off.payload["active"] is False
    await maintenance.check("chat")
    await started.events.unsubscribe(subscription)


async def test_no_services_named_means_every_service(started: Platform) -> None:
    assert started.maintenance is not None
    await started.maintenance.switch(admin(started), enabled=True, message="down")
    for service in ("chat", "workspaces", "mcp_marketplace"):
        with pytest.raises(Unavailable):
            await started.maintenance.check(service)


async def test_another_replica_reads_the_database_within_its_refresh(started: Platform) -> None:
    assert started.maintenance is not None
    clock = Clock()
    other = replica(started, clock)
    await other.check("chat")  # read now: off, cached for refresh_s

    await started.maintenance.switch(admin(started), enabled=True, message="upgrading")
    await other.check("chat")  # still its cache
    clock.now += 3.0
    with pytest.raises(Unavailable):
        await other.check("chat")

    # a restart (a fresh instance) sees the stored state at once
    assert (await replica(started, Clock()).current()).message == "upgrading"


async def test_a_bus_event_updates_the_cache_at_once(started: Platform) -> None:
    assert started.maintenance is not None
    clock = Clock()
    other = replica(started, clock)
    await other.start()
    try:
        await other.check("chat")
        await started.maintenance.switch(admin(started), enabled=True, message="now")
        # the event is queued for `other`'s follower task: give it its turns, a bounded few
        for _ in range(100):
            if other.cached.active:
                break
            await asyncio.sleep(0)
        assert other.cached.active  # clock never moved: only the bus event could tell it
        with pytest.raises(Unavailable):
            await other.check("chat")
    finally:
        await other.stop()


async def test_only_the_operators_admins_switch_it(started: Platform) -> None:
    assert started.maintenance is not None
    plain = Principal(started.settings.default_tenant, "someone", frozenset())
    with pytest.raises(Forbidden) as refused:
        await started.maintenance.switch(plain, enabled=True)
    assert refused.value.reason == "ADMIN_REQUIRED"
    with pytest.raises(Forbidden) as refused:
        await started.maintenance.switch(await other_tenant(started), enabled=True)
    assert refused.value.reason == "OPERATOR_REQUIRED"
    assert not (await started.maintenance.reload()).active
