"""Crazy Gary's `POST /api/chat` (seed 004 "Agent Orchestration"); `/api/tasks` is tasks.py.

Each chat call is one agent turn recorded as a task (core's `ChatTasks`): the user's
conversation with Gary continues across calls, and each answer is the result of the task
whose id comes back.
"""

from __future__ import annotations

from fastapi import APIRouter

from menagerie.dialects.gary.deps import PlatformDep, PrincipalDep
from menagerie.dialects.gary.schemas.tasks import ChatAnswer, ChatBody
from menagerie.http.openapi import errors

router = APIRouter(prefix="/api", tags=["agent"])
AGENT = "gary"


@router.post("/chat", response_model=ChatAnswer, responses=errors(404, 502, 503))
async def chat(body: ChatBody, platform: PlatformDep, principal: PrincipalDep) -> ChatAnswer:
    turn = await platform.chat_tasks.run(
        principal, agent=AGENT, message=body.message, context=body.context
    )
    return ChatAnswer(response=turn.response, task_id=turn.task.id)
