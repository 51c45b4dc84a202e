"""Agent tasks on the worker: a task asked for by title and description runs the agent loop,
with the agent's tools, as a run; its record follows the run (running, progress with each
tool call, completed with the answer, failed with the reason, stopped on request) and each
change goes out on the bus as `TaskUpdated`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from datetime import datetime
from typing import Any, ClassVar

from menagerie.core.agents.events import ToolCallStarted, ToolResult, TurnDone
from menagerie.core.agents.runtime import AgentRuntime, TurnRequest
from menagerie.core.errors import Conflict
from menagerie.core.events import EventBus
from menagerie.core.events.typed import TypedEvent
from menagerie.core.identity.models import Principal
from menagerie.core.runs.models import JobKind, Run, RunContext
from menagerie.core.runs.service import Runs
from menagerie.core.runs.tasks import STATUSES, Task, TaskService

JOB = "agent.task"
# one topic per state a task enters: `task.created`, `task.running`, `task.completed` …,
# which the event stream names `task_created`, `task_completed` …
TASK_TOPICS = {status: f"task.{status}" for status in STATUSES}
# progress while the turn works: where it starts, and how far tool calls may carry it
STARTED_AT, TOOLS_UP_TO = 10, 90


@dataclasses.dataclass(frozen=True, slots=True)
class TaskUpdated(TypedEvent):
    """A task changed: it entered a state, or made progress (published on its state's topic)."""

    topic: ClassVar[str] = "task.*"

    tenant_id: str
    user_id: str
    task_id: str
    title: str
    status: str
    progress: int
    error: str | None
    updated_at: datetime


def _prompt(task: Task) -> str:
    return f"{task.title}\n\n{task.description}".strip()


class AgentTasks:
    def __init__(
        self, tasks: TaskService, runs: Runs, agents: AgentRuntime, events: EventBus
    ) -> None:
        self._tasks = tasks
        self._runs = runs
        self._agents = agents
        self._events = events
        runs.register(JobKind(JOB, self._execute, on_end=self._ended))

    async def create(
        self,
        principal: Principal,
        *,
        agent: str,
        title: str,
        description: str,
        model: str | None,
        priority: str,
    ) -> Task:
        self._agents.catalog.get(agent)  # an unknown agent is refused before anything is kept
        task = await self._tasks.create(
            principal,
            title=title,
            description=description,
            agent_id=agent,
            model=model,
            priority=priority,
        )
        await self._publish(task)
        return task

    async def start(self, principal: Principal, task_id: str) -> Task:
        task = await self._tasks.begin(principal, task_id)
        await self._runs.submit(principal, JOB, subject_id=task.id, priority=task.priority)
        await self._publish(task)
        return task

    async def stop(self, principal: Principal, task_id: str, *, wait_s: float = 0) -> Task:
        """Tells the task's run to stop; with `wait_s`, waits that long to see it stopped."""
        task = await self._tasks.get(principal, task_id)
        run = await self._runs.store.latest_for(task.id)
        if task.status != "running" or run is None or run.status not in ("queued", "running"):
            raise Conflict(
                f"task {task_id} is {task.status}: only a running task stops",
                reason="TASK_NOT_RUNNING",
                details={"status": task.status},
            )
        await self._runs.cancel(run.id, principal.tenant_id)
        with contextlib.suppress(TimeoutError):
            return await self.wait(principal, task_id, wait_s)
        return await self._tasks.get(principal, task_id)

    async def wait(self, principal: Principal, task_id: str, timeout_s: float) -> Task:
        """Until the task has ended (completed, failed or stopped); TimeoutError past
        `timeout_s`. Its record follows its run once the run's end is handled, on any
        worker, so this polls the record rather than the run."""
        async with asyncio.timeout(timeout_s):
            while True:
                task = await self._tasks.get(principal, task_id)
                if task.status not in ("created", "running"):
                    return task
                await asyncio.sleep(0.05)

    async def _execute(self, context: RunContext) -> dict[str, Any]:
        run = context.run
        principal = run.principal
        assert run.subject_id is not None
        task = await self._tasks.get(principal, run.subject_id)
        await self._advance(principal, task.id, STARTED_AT)
        tools: list[dict[str, Any]] = []
        done: TurnDone | None = None
        request = TurnRequest(
            agent=task.agent_id or "gary",
            message=_prompt(task),
            model=task.model,
            model_is_preference=True,
        )
        async with context.step("agent_turn"):
            async for event in self._agents.run(principal, request):
                if isinstance(event, ToolCallStarted):
                    tools.append({"name": event.name, "arguments": event.arguments})
                elif isinstance(event, ToolResult):
                    if tools:
                        tools[-1].update(output=event.output, is_error=event.is_error)
                    share = min(len(tools), 8) / 8
                    percent = STARTED_AT + int((TOOLS_UP_TO - STARTED_AT) * share)
                    await self._advance(principal, task.id, percent)
                    await context.progress(percent)
                elif isinstance(event, TurnDone):
                    done = event
        assert done is not None
        return {
            "response": done.message.content,
            "session_id": done.message.session_id,
            "message_id": done.message.id,
            "model": done.model,
            "tool_calls": tools,
        }

    async def _advance(self, principal: Principal, task_id: str, percent: int) -> None:
        task = await self._tasks.advance(principal, task_id, percent)
        if task is not None:
            await self._publish(task)

    async def _ended(self, run: Run) -> None:
        """However the run ended (also by a lost worker, on another process), the task says so."""
        if run.subject_id is None:
            return
        principal = run.principal
        if run.status == "completed":
            result = run.result or {}
            task = await self._tasks.finish(
                principal,
                run.subject_id,
                result=result,
                session_id=result.get("session_id"),
                model=result.get("model"),
            )
        elif run.status == "cancelled":
            task = await self._tasks.halt(principal, run.subject_id)
        else:
            task = await self._tasks.finish(
                principal, run.subject_id, error=run.error or "INTERNAL_ERROR"
            )
        await self._publish(task)

    async def _publish(self, task: Task) -> None:
        event = TaskUpdated(
            tenant_id=task.tenant_id,
            user_id=task.user_id,
            task_id=task.id,
            title=task.title,
            status=task.status,
            progress=task.progress,
            error=task.error,
            updated_at=task.updated_at,
        )
        await self._events.publish(TASK_TOPICS[task.status], event.to_payload())
