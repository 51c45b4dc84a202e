"""Crazy Gary's `POST /api/chat` (seed 004): one agent turn, recorded as a task.

The user's conversation with Gary continues across calls in one chat session; each call's
answer is the result of the task whose id comes back.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from menagerie.core.agents.runtime import TurnRequest
from menagerie.core.clock import iso
from menagerie.core.errors import MenagerieError
from menagerie.core.identity.models import Principal
from menagerie.core.runs.tasks import Task
from menagerie.http.deps import get_platform, require_principal
from menagerie.platform import Platform

router = APIRouter(prefix="/api", tags=["agent"])
PlatformDep = Annotated[Platform, Depends(get_platform)]
PrincipalDep = Annotated[Principal, Depends(require_principal)]
AGENT = "gary"


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: str = Field(min_length=1)
    context: str | dict[str, Any] | None = None


@router.post("/chat")
async def chat(body: ChatIn, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    task = await platform.tasks.create(
        principal,
        title=body.message.strip().splitlines()[0][:120] or "chat",
        description=body.message,
        kind="chat",
        agent_id=AGENT,
        status="running",
    )
    sessions, _ = await platform.chat.list_sessions(principal, agent_id=AGENT, active=True, limit=1)
    context = body.context if isinstance(body.context, dict) else {}
    if isinstance(body.context, str) and body.context.strip():
        context = {"context": body.context.strip()}
    try:
        done = await platform.agents.complete(
            principal,
            TurnRequest(
                agent=AGENT,
                message=body.message,
                session_id=sessions[0].id if sessions else None,
                context=context,
            ),
        )
    except MenagerieError as error:
        await platform.tasks.finish(principal, task.id, error=f"{error.reason}: {error.message}")
        raise
    await platform.tasks.finish(
        principal,
        task.id,
        result={"response": done.message.content, "message_id": done.message.id},
        session_id=done.message.session_id,
        model=done.model,
    )
    return {"response": done.message.content, "task_id": task.id}


def _task(task: Task, *, detail: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": task.id,
        "title": task.title,
        "description": task.description,
        "status": task.status,
        "model": task.model,
        "priority": task.priority,
        "progress": task.progress,
        "created_at": iso(task.created_at),
        "updated_at": iso(task.updated_at),
    }
    if detail:
        body["result"] = task.result
        body["error"] = task.error
    return body


@router.get("/tasks")
async def list_tasks(
    platform: PlatformDep,
    principal: PrincipalDep,
    status: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    tasks, _ = await platform.tasks.list(principal, status=status, limit=limit, offset=offset)
    return [_task(task) for task in tasks]


@router.get("/tasks/{task_id}")
async def get_task(task_id: str, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    return _task(await platform.tasks.get(principal, task_id), detail=True)
