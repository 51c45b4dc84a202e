"""Crazy Gary's `POST /api/chat` and `/api/tasks` (seed 004 "Agent Orchestration").

Each chat call is one agent turn recorded as a task (core's `ChatTasks`): the user's
conversation with Gary continues across calls, and each answer is the result of the task
whose id comes back.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from menagerie.core.clock import iso
from menagerie.core.paging import MAX_OFFSET
from menagerie.core.runs.tasks import Task
from menagerie.dialects.gary.deps import PlatformDep, PrincipalDep
from menagerie.dialects.gary.schemas.tasks import ChatAnswer, ChatBody, TaskDetail, TaskEntry
from menagerie.http.openapi import errors

router = APIRouter(prefix="/api", tags=["agent"])
AGENT = "gary"
# the seed's task statuses, for the list's filter
StatusFilter = Annotated[str | None, Query(pattern="^(created|running|completed|failed|stopped)$")]


@router.post("/chat", response_model=ChatAnswer, responses=errors(404, 502, 503))
async def chat(body: ChatBody, platform: PlatformDep, principal: PrincipalDep) -> ChatAnswer:
    turn = await platform.chat_tasks.run(
        principal, agent=AGENT, message=body.message, context=body.context
    )
    return ChatAnswer(response=turn.response, task_id=turn.task.id)


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
