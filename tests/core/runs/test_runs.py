"""Runs on the in-memory broker, on SQLite and PostgreSQL: an agent task runs the agent loop
with its tools, stops reach it, priorities and tenant fairness order the queue, and a run
whose worker died is resumed or failed with the reason, never left running."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from menagerie.core.clock import iso, utcnow
from menagerie.core.errors import Conflict
from menagerie.core.runs.models import JobKind, RunContext, Step
from menagerie.core.runs.tables import RunRow
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.principals import admin, other_tenant


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # a lost worker is noticed within a second here, so the recovery tests stay short
    return settings.model_copy(update={"run_heartbeat_s": 0.1, "run_lapse_s": 0.6})


async def _until(check: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)


async def test_a_task_runs_the_agent_loop_and_calls_the_time_tool(started: Platform) -> None:
    me = admin(started)
    updates = await started.events.subscribe("task.*")
    task = await started.agent_tasks.create(
        me,
        agent="gary",
        title="What time is it?",
        description="/tool current_time {}",
        model=None,
        priority="high",
    )
    assert task.status == "created"
    await started.agent_tasks.start(me, task.id)
    run = await started.runs.store.latest_for(task.id)
    assert run is not None
    ended = await started.runs.wait(run.id, 20)
    assert ended.status == "completed", ended.error
    assert [step.name for step in ended.steps] == ["agent_turn"]
    assert ended.steps[0].status == "completed"
    assert ended.steps[0].duration_s is not None

    done = await started.agent_tasks.wait(me, task.id, 10)
    assert (done.status, done.progress) == ("completed", 100)
    calls = done.result["tool_calls"]
    assert [call["name"] for call in calls] == ["current_time"]
    assert str(utcnow().year) in calls[0]["output"]  # the tool really answered
    assert done.result["response"]

    # one span tree: the run, its step, the agent turn and its tool call inside the step
    spans = {span.name: span for span in started.tracing.store.finished}
    run_span, step_span = spans["run agent.task"], spans["run.step agent_turn"]
    turn, tool = spans["invoke_agent gary"], spans["execute_tool current_time"]
    assert step_span.parent is not None
    assert step_span.parent.span_id == run_span.context.span_id
    assert turn.parent is not None
    assert turn.parent.span_id == step_span.context.span_id
    assert tool.context.trace_id == run_span.context.trace_id
    assert run_span.attributes["menagerie.run.id"] == run.id

    worker = started.health.check_worker()
    assert worker.healthy
    assert (worker.details["runs_broker"], worker.details["runs_executing"]) == ("memory", True)
    assert worker.details["runs_completed"] == 1

    # counted as it happened: queued, claimed, completed
    for state in ("queued", "running", "completed"):
        labels = {"kind": "agent.task", "state": state}
        counted = started.metrics.registry.get_sample_value(
            "menagerie_task_transitions_total", labels
        )
        assert counted == 1, state

    seen: list[tuple[str, int]] = []
    while (event := await updates.get(within=1)) is not None:
        assert event.topic == f"task.{event.payload['status']}"
        seen.append((event.payload["status"], event.payload["progress"]))
    assert seen[0] == ("created", 0)
    assert ("running", 10) in seen
    assert seen[-1] == ("completed", 100)


def _blocking_job(started: Platform, entered: asyncio.Event) -> None:
    async def handler(context: RunContext) -> None:
        async with context.step("wait"):
            entered.set()
            await asyncio.sleep(60)

    started.runs.register(JobKind("test.block", handler))


async def test_a_stop_ends_a_running_run_and_a_queued_one(started: Platform) -> None:
    me = admin(started)
    entered = asyncio.Event()
    _blocking_job(started, entered)
    running = await started.runs.submit(me, "test.block")
    await asyncio.wait_for(entered.wait(), 10)
    # the stop travels the bus and the heartbeat, as it would to another worker
    await started.runs.store.request_cancel(running.id)
    ended = await started.runs.wait(running.id, 5)
    assert (ended.status, ended.error) == ("cancelled", "CANCELLED: stopped on request")
    assert ended.steps[0].status == "failed"

    with pytest.raises(Conflict) as finished:
        await started.runs.cancel(running.id)
    assert finished.value.reason == "RUN_FINISHED"


async def test_a_stopped_task_says_stopped_and_can_start_again(settings: Settings) -> None:
    # the offline model answers slowly here, so the task is still running when stopped
    platform = Platform.build(settings.model_copy(update={"offline_token_delay_ms": 500}))
    await platform.start()
    try:
        me = admin(platform)
        task = await platform.agent_tasks.create(
            me, agent="gary", title="long", description="write a lot", model=None, priority="low"
        )
        await platform.agent_tasks.start(me, task.id)
        run = await platform.runs.store.latest_for(task.id)
        assert run is not None

        async def is_running() -> bool:
            return (await platform.runs.store.get(run.id)).status == "running"

        await _until(is_running)
        await platform.agent_tasks.stop(me, task.id)
        assert (await platform.runs.wait(run.id, 5)).status == "cancelled"
        assert (await platform.agent_tasks.wait(me, task.id, 5)).status == "stopped"
        with pytest.raises(Conflict) as twice:
            await platform.agent_tasks.stop(me, task.id)
        assert twice.value.reason == "TASK_NOT_RUNNING"
        again = await platform.agent_tasks.start(me, task.id)
        assert (again.status, again.progress) == ("running", 0)
    finally:
        await platform.stop()


async def test_priority_first_then_the_tenant_with_fewest_running(platform: Platform) -> None:
    # not started: nothing executes, the claims are made by hand
    await platform.start()
    try:
        await platform.runs.stop()
        me = admin(platform)
        other = await other_tenant(platform)
        platform.runs.register(JobKind("test.noop", _noop))
        burst = [await platform.runs.submit(me, "test.noop") for _ in range(3)]
        theirs = await platform.runs.submit(other, "test.noop")
        urgent = await platform.runs.submit(me, "test.noop", priority="critical")
        low = await platform.runs.submit(other, "test.noop", priority="low")
        order = [await platform.runs.store.claim("w") for _ in range(6)]
        ids = [run.id for run in order if run is not None]
        # critical first; then the other tenant's, which has none running while the burst's
        # tenant has one, though the burst came first; then the burst in order; low last
        assert ids == [urgent.id, theirs.id, burst[0].id, burst[1].id, burst[2].id, low.id]
        assert await platform.runs.store.claim("w") is None
    finally:
        await platform.stop()


async def _noop(context: RunContext) -> str:
    return "ok"


async def _age(platform: Platform, run_id: str, *, worker: str, attempt: int) -> None:
    """As if a worker that died had claimed the run a while ago."""
    async with platform.database.session() as session:
        await session.execute(
            update(RunRow)
            .where(RunRow.id == run_id)
            .values(
                status="running",
                worker_id=worker,
                attempt=attempt,
                heartbeat_at=utcnow() - timedelta(minutes=5),
            )
        )


async def test_a_run_whose_worker_died_is_resumed_from_its_last_step(platform: Platform) -> None:
    await platform.start()
    try:
        await platform.runs.stop()  # claimed "by a worker that died" before anyone executes
        me = admin(platform)
        calls: list[frozenset[str]] = []

        async def steps(context: RunContext) -> list[str]:
            calls.append(context.run.completed_steps)
            for name in ("fetch", "build"):
                if name not in context.run.completed_steps:
                    async with context.step(name):
                        pass
            return sorted(context.run.completed_steps)

        platform.runs.register(JobKind("test.steps", steps))
        run = await platform.runs.submit(me, "test.steps")
        claimed = await platform.runs.store.claim("dead-worker")
        assert claimed is not None
        assert claimed.id == run.id
        done = Step("fetch", "completed", iso(utcnow()) or "", iso(utcnow()), 0.0)
        await platform.runs.store.log_step(run.id, "dead-worker", done)
        await _age(platform, run.id, worker="dead-worker", attempt=1)
        await platform.runs.start()
        ended = await platform.runs.wait(run.id, 10)
        assert ended.status == "completed"
        assert ended.attempt == 2
        assert calls == [frozenset({"fetch"})]  # the second attempt skipped the done step
        assert [s.name for s in ended.steps] == ["fetch", "build"]
    finally:
        await platform.stop()


async def test_a_task_whose_worker_died_too_often_fails_with_the_reason(started: Platform) -> None:
    me = admin(started)
    task = await started.agent_tasks.create(
        me, agent="gary", title="t", description="d", model=None, priority="medium"
    )
    await started.tasks.begin(me, task.id)
    run = await started.runs.store.add(
        me,
        kind="agent.task",
        subject_id=task.id,
        priority="medium",
        arguments={},
        max_attempts=1,
    )
    await _age(started, run.id, worker="gone:1", attempt=1)
    ended = await started.runs.wait(run.id, 10)
    assert ended.status == "failed"
    assert ended.error is not None
    assert ended.error.startswith("WORKER_LOST: its worker gone:1")
    failed = await started.agent_tasks.wait(me, task.id, 10)
    assert failed.status == "failed"
    assert failed.error == ended.error
