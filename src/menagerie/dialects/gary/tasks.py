"""Crazy Gary's tasks (seed 004 "Agent Orchestration"): `/api/tasks*` and `/api/stats`.

A task is created, then started: it runs the agent loop with Gary's tools on a worker (core's
`AgentTasks`), and its record follows the run. A stop reaches it on whichever worker runs it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from menagerie.core.clock import iso
from menagerie.core.paging import MAX_OFFSET
from menagerie.core.runs.tasks import Task
from menagerie.dialects.gary.deps import PlatformDep, PrincipalDep
from menagerie.dialects.gary.schemas.tasks import (
    AgentStats,
    TaskBody,
    TaskCreated,
    TaskDetail,
    TaskEntry,
    TaskStarted,
    TaskStopped,
)
from menagerie.http.openapi import errors

router = APIRouter(prefix="/api", tags=["agent"])
AGENT = "gary"
# the seed's task statuses, for the list's filter
StatusFilter = Annotated[str | None, Query(pattern="^(created|running|completed|failed|stopped)$")]
# how long a stop waits to see the task stopped before it answers
STOP_WAIT_S = 5.0


def _entry(task: Task) -> dict[str, object]:
    return {
        "id": task.id,
        "title": task.title,
        "description": task.description,
        "status": task.status,
        "model": task.model,
        "priority": task.priority,
        "progress": task.progress,
        "created_at": iso(task.created_at) or "",
        "updated_at": iso(task.updated_at) or "",
    }


@router.post("/tasks", status_code=201, response_model=TaskCreated)
async def create_task(
    body: TaskBody, platform: PlatformDep, principal: PrincipalDep
) -> TaskCreated:
    task = await platform.agent_tasks.create(
        principal,
        agent=AGENT,
        title=body.title,
        description=body.description,
        model=body.model,
        priority=body.priority,
    )
    return TaskCreated(task_id=task.id, status="created")


@router.get("/tasks", response_model=list[TaskEntry])
async def list_tasks(
    platform: PlatformDep,
    principal: PrincipalDep,
    status: StatusFilter = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[TaskEntry]:
    tasks, _ = await platform.tasks.list(principal, status=status, limit=limit, offset=offset)
    return [TaskEntry.model_validate(_entry(task)) for task in tasks]


@router.get("/tasks/{task_id}", response_model=TaskDetail, responses=errors(404))
async def get_task(task_id: str, platform: PlatformDep, principal: PrincipalDep) -> TaskDetail:
    task = await platform.tasks.get(principal, task_id)
    return TaskDetail.model_validate({**_entry(task), "result": task.result, "error": task.error})


@router.post("/tasks/{task_id}/start", response_model=TaskStarted, responses=errors(404, 409))
async def start_task(task_id: str, platform: PlatformDep, principal: PrincipalDep) -> TaskStarted:
    await platform.agent_tasks.start(principal, task_id)
    return TaskStarted(status="started")


@router.post("/tasks/{task_id}/stop", response_model=TaskStopped, responses=errors(404, 409))
async def stop_task(task_id: str, platform: PlatformDep, principal: PrincipalDep) -> TaskStopped:
    await platform.agent_tasks.stop(principal, task_id, wait_s=STOP_WAIT_S)
    return TaskStopped(status="stopped")


@router.get("/stats", response_model=AgentStats)
async def stats(platform: PlatformDep, principal: PrincipalDep) -> AgentStats:
    figures = await platform.tasks.stats(principal)
    return AgentStats(
        total_tasks=figures.total,
        active_tasks=figures.active,
        completed_tasks=figures.completed,
        failed_tasks=figures.failed,
        average_completion_time=figures.average_completion_s or 0.0,
        success_rate=figures.success_rate or 0.0,
    )
