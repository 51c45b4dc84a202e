"""A chat turn recorded as a task: APIs that report each answer as a task's result (Crazy
Gary's `POST /api/chat`) make one call here.

The task is created running, the agent answers in the caller's ongoing conversation with that
agent (its newest active chat session, or a new one), and the task ends completed with the
answer or failed with the reason; a turn cut short (a bug, a cancelled request) never leaves
its task running.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from menagerie.core.agents.runtime import AgentRuntime, TurnRequest
from menagerie.core.errors import MenagerieError
from menagerie.core.identity.models import Principal
from menagerie.core.runs.tasks import Task, TaskService

TITLE_CHARS = 120


@dataclass(frozen=True, slots=True)
class ChatTurnTask:
    response: str  # the agent's answer
    task: Task  # completed, its result holding the answer and the stored message's id


def _context(context: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """A caller's context: an object as it is, or free text under `context`."""
    if isinstance(context, Mapping):
        return dict(context)
    if isinstance(context, str) and context.strip():
        return {"context": context.strip()}
    return {}


def _title(message: str) -> str:
    lines = message.strip().splitlines()
    return (lines[0][:TITLE_CHARS] if lines else "") or "chat"


class ChatTasks:
    def __init__(self, tasks: TaskService, agents: AgentRuntime) -> None:
        self._tasks = tasks
        self._agents = agents

    async def run(
        self,
        principal: Principal,
        *,
        agent: str,
        message: str,
        context: str | Mapping[str, Any] | None = None,
    ) -> ChatTurnTask:
        task = await self._tasks.create(
            principal,
            title=_title(message),
            description=message,
            kind="chat",
            agent_id=agent,
            status="running",
        )
        sessions, _ = await self._agents.chat.list_sessions(
            principal, agent_id=agent, active=True, limit=1
        )
        turn = TurnRequest(
            agent=agent,
            message=message,
            session_id=sessions[0].id if sessions else None,
            context=_context(context),
        )
        try:
            done = await self._agents.complete(principal, turn)
        except MenagerieError as error:
            await self._tasks.finish(principal, task.id, error=f"{error.reason}: {error.message}")
            raise
        except (Exception, asyncio.CancelledError):
            # the cause is logged where it is handled; the task says only that it failed
            await self._tasks.finish(principal, task.id, error="INTERNAL_ERROR: the turn failed")
            raise
        finished = await self._tasks.finish(
            principal,
            task.id,
            result={"response": done.message.content, "message_id": done.message.id},
            session_id=done.message.session_id,
            model=done.model,
        )
        return ChatTurnTask(done.message.content, finished)
