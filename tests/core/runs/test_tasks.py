"""Agent tasks on SQLite and PostgreSQL: create, finish, list, tenancy, and their chat session."""

from __future__ import annotations

import pytest

from menagerie.core.errors import Invalid, NotFound
from menagerie.core.identity.models import Principal
from menagerie.platform import Platform
from tests.utils.principals import admin, other_tenant


async def test_a_task_is_created_then_finished(started: Platform) -> None:
    tasks, me = started.tasks, admin(started)
    task = await tasks.create(
        me, title="  Analyze code repository \n", description="scan it", priority="high"
    )
    assert task.id.startswith("task_")
    assert (task.title, task.status, task.kind, task.progress) == (
        "Analyze code repository",
        "created",
        "task",
        0,
    )
    assert task.started_at is None
    assert await tasks.get(me, task.id) == task

    done = await tasks.finish(me, task.id, result={"answer": 42}, model="m")
    assert (done.status, done.progress, done.result, done.model) == (
        "completed",
        100,
        {"answer": 42},
        "m",
    )
    assert done.completed_at is not None

    running = await tasks.create(me, title="chat turn", kind="chat", status="running")
    assert running.started_at is not None
    failed = await tasks.finish(me, running.id, error="UPSTREAM: no model")
    assert (failed.status, failed.error) == ("failed", "UPSTREAM: no model")


async def test_tasks_list_by_status_newest_first(started: Platform) -> None:
    tasks, me = started.tasks, admin(started)
    first = await tasks.create(me, title="one")
    second = await tasks.create(me, title="two")
    await tasks.finish(me, first.id, result=None)
    listed, total = await tasks.list(me)
    assert total == 2
    assert [t.id for t in listed] == [second.id, first.id]
    completed, total = await tasks.list(me, status="completed")
    assert ([t.id for t in completed], total) == ([first.id], 1)
    with pytest.raises(Invalid) as bad:
        await tasks.list(me, status="pending")
    assert bad.value.field == "status"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"title": "  "}, "title"),
        ({"title": "t", "priority": "urgent"}, "priority"),
        ({"title": "t", "kind": "batch"}, "kind"),
        ({"title": "t", "status": "pending"}, "status"),
    ],
)
async def test_bad_tasks_are_refused(started: Platform, kwargs: dict[str, str], field: str) -> None:
    with pytest.raises(Invalid) as bad:
        await started.tasks.create(admin(started), **kwargs)  # type: ignore[arg-type]
    assert bad.value.field == field


async def test_tasks_stay_in_their_tenant_and_with_their_user(started: Platform) -> None:
    tasks, me = started.tasks, admin(started)
    task = await tasks.create(me, title="mine")
    acme = await other_tenant(started)
    with pytest.raises(NotFound) as missing:
        await tasks.get(acme, task.id)
    assert missing.value.reason == "TASK_NOT_FOUND"
    with pytest.raises(NotFound):
        await tasks.finish(acme, task.id, result="stolen")
    assert await tasks.list(acme) == ([], 0)
    colleague = Principal(me.tenant_id, "usr_colleague")
    with pytest.raises(NotFound):
        await tasks.get(colleague, task.id)
    assert (await tasks.get(me, task.id)).status == "created"


async def test_a_task_points_only_at_its_tenants_session_and_outlives_it(
    started: Platform,
) -> None:
    tasks, chat, me = started.tasks, started.chat, admin(started)
    session = await chat.create_session(me, "crazy-gary")
    task = await tasks.create(me, title="turn", kind="chat", session_id=session.id)
    assert task.session_id == session.id

    acme = await other_tenant(started)
    with pytest.raises(NotFound) as foreign:
        await tasks.create(acme, title="peek", session_id=session.id)
    assert foreign.value.reason == "SESSION_NOT_FOUND"
    theirs = await tasks.create(acme, title="theirs")
    with pytest.raises(NotFound):
        await tasks.finish(acme, theirs.id, result=None, session_id=session.id)

    # deleting the conversation keeps the task and forgets the link (ON DELETE SET NULL)
    await chat.delete_session(me, session.id)
    kept = await tasks.get(me, task.id)
    assert kept.session_id is None
