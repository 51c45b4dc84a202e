"""Incidents keep a timeline of updates in the database: each with its author and time,
moving the status or the assignee when it says so; another tenant's incident does not exist
for a caller, and a plain user may neither write nor read one."""

from __future__ import annotations

import pytest

from menagerie.core.errors import Forbidden, Invalid, NotFound
from menagerie.core.identity.models import Principal
from menagerie.platform import Platform
from tests.utils.principals import admin, other_tenant


async def test_updates_form_a_timeline_that_moves_the_incident(started: Platform) -> None:
    me = admin(started)
    incidents = started.incidents
    opened = await incidents.open(
        me, title="Database slow", severity="medium", assignee="ops@example.com"
    )
    first = await incidents.update(me, opened.id, message="Looking at the slow queries")
    assert (first.status, first.assignee, first.author) == (None, None, me.user_id)
    second = await incidents.update(
        me,
        opened.id,
        message="Handing over to the DBA",
        status="investigating",
        assignee="dba@example.com",
    )
    third = await incidents.update(me, opened.id, message="Index added", status="resolved")

    timeline = await incidents.updates(me, opened.id)
    assert [u.id for u in timeline] == [first.id, second.id, third.id]
    assert [u.message for u in timeline][-1] == "Index added"
    now = await incidents.get(me, opened.id)
    assert (now.status, now.assignee) == ("resolved", "dba@example.com")
    assert now.updated_at == third.timestamp
    assert [i.id for i in await incidents.list(me, status="resolved")] == [opened.id]

    with pytest.raises(Invalid):
        await incidents.update(me, opened.id, message="  ")
    with pytest.raises(Invalid):
        await incidents.update(me, opened.id, message="x", status="closed")

    stranger = await other_tenant(started)
    with pytest.raises(NotFound):
        await incidents.update(stranger, opened.id, message="not mine")
    with pytest.raises(NotFound):
        await incidents.updates(stranger, opened.id)
    assert await incidents.list(stranger) == []
    plain = Principal(me.tenant_id, "usr_plain", frozenset())
    with pytest.raises(Forbidden):
        await incidents.update(plain, opened.id, message="let me")
    with pytest.raises(Forbidden):
        await incidents.updates(plain, opened.id)
    assert len(await incidents.updates(me, opened.id)) == 3
