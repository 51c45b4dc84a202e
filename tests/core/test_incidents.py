"""Incidents: admins open and list them, per tenant, with checked fields."""

from __future__ import annotations

import pytest

from menagerie.core.errors import Forbidden, Invalid
from menagerie.core.identity.models import Principal
from menagerie.platform import Platform
from tests.utils.principals import admin, other_tenant


async def test_open_list_filter_and_tenancy(started: Platform) -> None:
    incidents, me = started.incidents, admin(started)
    first = await incidents.open(me, title="Slow database", description="p99 over 2 s")
    second = await incidents.open(
        me, title="  API returning 500s ", severity="high", assignee="ops@example.com"
    )
    assert (first.status, first.severity, first.assignee) == ("open", "medium", None)
    assert (second.title, second.severity) == ("API returning 500s", "high")
    assert [i.id for i in await incidents.list(me)] == [second.id, first.id]
    assert [i.id for i in await incidents.list(me, severity="high")] == [second.id]
    assert await incidents.list(me, status="resolved") == []
    assert len(await incidents.list(me, limit=1)) == 1
    # another tenant's incidents do not exist for it
    assert await incidents.list(await other_tenant(started)) == []


async def test_refusals(started: Platform) -> None:
    incidents, me = started.incidents, admin(started)
    plain = Principal(me.tenant_id, "usr_plain", frozenset())
    with pytest.raises(Forbidden):
        await incidents.open(plain, title="x")
    with pytest.raises(Forbidden):
        await incidents.list(plain)
    for bad in ({"title": "   "}, {"title": "x" * 201}, {"title": "x", "severity": "urgent"}):
        with pytest.raises(Invalid):
            await incidents.open(me, **bad)
    with pytest.raises(Invalid):
        await incidents.list(me, status="closed")
