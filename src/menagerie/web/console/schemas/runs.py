"""The runs page: agent tasks and their run, orchestrations and their steps, sandboxes and
the terminal into one."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from menagerie.web.console.schemas.common import Wire

Priority = Literal["low", "medium", "high", "critical"]


# -- tasks ------------------------------------------------------------------------------------


class TaskIn(Wire):
    """A task to start now: the agent loop on the prompt, on a worker."""

    prompt: str = Field(min_length=1, max_length=20_000)
    agent: str = Field("gary", min_length=1, max_length=128)
    priority: Priority = "medium"


class TaskOut(Wire):
    id: str
    title: str
    agent: str | None
    model: str | None
    priority: str
    status: Literal["created", "running", "completed", "failed", "stopped"]
    progress: int  # 0-100
    error: str | None
    created_at: str
    updated_at: str
    started_at: str | None
    completed_at: str | None


class TaskPage(Wire):
    tasks: list[TaskOut]
    total: int
    limit: int
    offset: int


class StepOut(Wire):
    """One entry of a run's step log."""

    name: str
    status: str
    started_at: str
    finished_at: str | None
    duration_s: float | None
    detail: str | None


class RunOut(Wire):
    """The latest run of a task: where the work happens (queued, running, ended)."""

    id: str
    status: Literal["queued", "running", "completed", "failed", "cancelled"]
    attempt: int
    max_attempts: int
    progress: int
    steps: list[StepOut]
    error: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None


class ToolCallOut(Wire):
    name: str
    arguments: dict[str, Any]
    output: str | None
    is_error: bool


class TaskDetail(TaskOut):
    description: str
    response: str | None  # the agent's answer once completed
    session_id: str | None  # the chat session the turn was kept in
    tool_calls: list[ToolCallOut]
    run: RunOut | None


# -- orchestrations ---------------------------------------------------------------------------


class OrchestrationStepOut(Wire):
    number: int
    tool: str
    name: str
    status: Literal["pending", "running", "completed", "failed", "cancelled"]
    progress: int
    duration_s: float | None
    error: str | None
    result: Any = None  # only in an orchestration's own view


class OrchestrationOut(Wire):
    id: str
    status: Literal["pending", "running", "completed", "failed", "cancelled"]
    progress: float  # 0-100, the steps' mean
    parallel: bool
    steps: list[OrchestrationStepOut]
    error: str | None
    estimated_time_remaining: float | None  # seconds; None while nothing was measured
    created_at: str
    started_at: str | None
    finished_at: str | None


class OrchestrationPage(Wire):
    orchestrations: list[OrchestrationOut]
    total: int
    limit: int
    offset: int


# -- sandboxes --------------------------------------------------------------------------------


class TemplateOut(Wire):
    name: str
    title: str
    kind: str  # what a sandbox made from it is: a workspace type, or "sandbox"
    terminal: bool  # whether it opens a shell (workspaces) or runs allowed commands only
    vcpus: int
    memory_mb: int
    timeout_minutes: int
    network: bool


class TemplateList(Wire):
    templates: list[TemplateOut]
    default: str


class SandboxIn(Wire):
    name: str = Field(min_length=1, max_length=100)
    template: str = Field("workspace", min_length=1, max_length=64)


class SandboxOut(Wire):
    id: str
    name: str
    template: str
    kind: str
    terminal: bool
    status: Literal["pending", "starting", "running", "stopping", "stopped", "terminated"]
    progress: int  # 0-100 of the current start or stop
    current_step: str | None
    error: str | None
    runtime: str
    vcpus: int
    memory_mb: int
    working_directory: str
    created_at: str
    started_at: str | None
    last_activity_at: str | None
    executions: int


class SandboxPage(Wire):
    sandboxes: list[SandboxOut]
    total: int


class TerminalIn(Wire):
    """One command line for the shell of the terminal session `session_id` (started on first
    use); what it prints arrives on the events stream as `sandbox.terminal_output`."""

    session_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][\w.:-]*$")
    command: str = Field(max_length=8192)


class TerminalSent(Wire):
    sent: bool = True
    session_id: str
