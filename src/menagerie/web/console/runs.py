"""The runs page's API: the caller's agent tasks (started, stopped, read with their run's
steps), their orchestrations with each step, and their sandboxes with a terminal into one.

Live changes reach the page on the events stream (`task.*`, `orchestration.*`,
`sandbox.status`, `sandbox.terminal_output`); these routes read and change.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from menagerie.core.clock import iso
from menagerie.core.errors import MenagerieError
from menagerie.core.orchestration.models import Orchestration, Progress
from menagerie.core.runs.models import Run
from menagerie.core.runs.tasks import Task
from menagerie.core.sandboxes import templates, workspaces
from menagerie.core.sandboxes.models import Sandbox, SandboxRequest
from menagerie.web.console.deps import ConsolePrincipalDep, PlatformDep
from menagerie.web.console.schemas.common import Deleted
from menagerie.web.console.schemas.runs import (
    OrchestrationOut,
    OrchestrationPage,
    OrchestrationStepOut,
    RunOut,
    SandboxIn,
    SandboxOut,
    SandboxPage,
    StepOut,
    TaskDetail,
    TaskIn,
    TaskOut,
    TaskPage,
    TemplateList,
    TemplateOut,
    TerminalIn,
    TerminalSent,
    ToolCallOut,
)

router = APIRouter(tags=["runs"])
StatusFilter = Annotated[str | None, Query(pattern="^(created|running|completed|failed|stopped)$")]
# how long a stop waits to see the task stopped before it answers (it is stopped either way)
STOP_WAIT_S = 5.0
TITLE_CHARS = 200
# the workspace template opens a shell; PodPlay's type for it, as the local backend runs it
WORKSPACE_TEMPLATE = "workspace"
WORKSPACE_KIND = "codespace"
TEMPLATE_TITLES = {
    WORKSPACE_TEMPLATE: "Development workspace (shell)",
    "metamorph-basic": "Metamorph basic (allowed commands only)",
    "metamorph-research": "Metamorph research (allowed commands, network)",
    "metamorph-autonomous": "Metamorph autonomous (allowed commands, network)",
}


# -- tasks ------------------------------------------------------------------------------------


def _split(prompt: str) -> tuple[str, str]:
    """A title (the prompt's first line) and the rest: the agent reads them joined again."""
    text = prompt.strip()
    first, _, rest = text.partition("\n")
    if len(first) > TITLE_CHARS:
        cut = first.rfind(" ", 0, TITLE_CHARS)
        cut = cut if cut > 0 else TITLE_CHARS
        first, rest = first[:cut], f"{first[cut:].strip()}\n{rest}".strip()
    return first.strip(), rest.strip()


def task_out(task: Task) -> TaskOut:
    return TaskOut(**_task_fields(task))


def _task_fields(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "title": task.title,
        "agent": task.agent_id,
        "model": task.model,
        "priority": task.priority,
        "status": task.status,
        "progress": task.progress,
        "error": task.error,
        "created_at": iso(task.created_at) or "",
        "updated_at": iso(task.updated_at) or "",
        "started_at": iso(task.started_at),
        "completed_at": iso(task.completed_at),
    }


def run_out(run: Run) -> RunOut:
    return RunOut(
        id=run.id,
        status=run.status,
        attempt=run.attempt,
        max_attempts=run.max_attempts,
        progress=run.progress,
        steps=[
            StepOut(
                name=step.name,
                status=step.status,
                started_at=step.started_at,
                finished_at=step.finished_at,
                duration_s=step.duration_s,
                detail=step.detail,
            )
            for step in run.steps
        ],
        error=run.error,
        created_at=iso(run.created_at) or "",
        started_at=iso(run.started_at),
        finished_at=iso(run.finished_at),
    )


def _tool_calls(result: dict[str, Any]) -> list[ToolCallOut]:
    calls = result.get("tool_calls")
    return [
        ToolCallOut(
            name=str(call.get("name", "")),
            arguments=call.get("arguments") if isinstance(call.get("arguments"), dict) else {},
            output=None if call.get("output") is None else str(call["output"]),
            is_error=bool(call.get("is_error")),
        )
        for call in (calls if isinstance(calls, list) else [])
        if isinstance(call, dict)
    ]


@router.get("/tasks", response_model=TaskPage)
async def list_tasks(
    platform: PlatformDep,
    principal: ConsolePrincipalDep,
    status: StatusFilter = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 30,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> TaskPage:
    """The caller's own tasks, newest first."""
    found, total = await platform.tasks.list(principal, status=status, limit=limit, offset=offset)
    return TaskPage(tasks=[task_out(t) for t in found], total=total, limit=limit, offset=offset)


@router.post("/tasks", response_model=TaskOut, status_code=201)
async def start_new_task(
    body: TaskIn, platform: PlatformDep, principal: ConsolePrincipalDep
) -> TaskOut:
    """Kept, then queued at once: the page sees it run on the events stream."""
    title, description = _split(body.prompt)
    created = await platform.agent_tasks.create(
        principal,
        agent=body.agent,
        title=title,
        description=description,
        model=None,
        priority=body.priority,
    )
    return task_out(await platform.agent_tasks.start(principal, created.id))


@router.get("/tasks/{task_id}", response_model=TaskDetail)
async def task_detail(
    task_id: str, platform: PlatformDep, principal: ConsolePrincipalDep
) -> TaskDetail:
    task = await platform.tasks.get(principal, task_id)  # another's is TASK_NOT_FOUND
    run = await platform.runs.store.latest_for(task.id)
    result = task.result if isinstance(task.result, dict) else {}
    response = result.get("response")
    return TaskDetail(
        **_task_fields(task),
        description=task.description,
        response=response if isinstance(response, str) else None,
        session_id=task.session_id,
        tool_calls=_tool_calls(result),
        run=run_out(run) if run is not None else None,
    )


@router.post("/tasks/{task_id}/stop", response_model=TaskOut)
async def stop_task(task_id: str, platform: PlatformDep, principal: ConsolePrincipalDep) -> TaskOut:
    """Tells its run to stop; a task not running is a conflict (TASK_NOT_RUNNING)."""
    return task_out(await platform.agent_tasks.stop(principal, task_id, wait_s=STOP_WAIT_S))


@router.post("/tasks/{task_id}/start", response_model=TaskOut)
async def restart_task(
    task_id: str, platform: PlatformDep, principal: ConsolePrincipalDep
) -> TaskOut:
    """Runs a stopped or failed task again."""
    return task_out(await platform.agent_tasks.start(principal, task_id))


# -- orchestrations ---------------------------------------------------------------------------


def orchestration_out(found: Orchestration, progress: Progress | None = None) -> OrchestrationOut:
    """With `progress` (one orchestration's view): its estimate and each step's result."""
    measured = {s.number: s for s in progress.steps} if progress is not None else {}
    steps = [
        OrchestrationStepOut(
            number=step.number,
            tool=step.tool,
            name=step.name,
            status=step.status,
            progress=step.progress,
            duration_s=step.duration_s,
            error=step.error,
            result=measured[step.number].result if step.number in measured else None,
        )
        for step in found.steps
    ]
    mean = sum(s.progress for s in found.steps) / len(found.steps) if found.steps else 0.0
    return OrchestrationOut(
        id=found.id,
        status=found.status,
        progress=round(progress.progress if progress is not None else mean, 1),
        parallel=found.parallel,
        steps=steps,
        error=found.error,
        estimated_time_remaining=progress.estimated_time_remaining if progress else None,
        created_at=iso(found.created_at) or "",
        started_at=iso(found.started_at),
        finished_at=iso(found.finished_at),
    )


@router.get("/orchestrations", response_model=OrchestrationPage)
async def list_orchestrations(
    platform: PlatformDep,
    principal: ConsolePrincipalDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> OrchestrationPage:
    """The caller's own orchestrations, newest first (results only in one's own view)."""
    found, total = await platform.orchestrations.store.list(principal, limit=limit, offset=offset)
    return OrchestrationPage(
        orchestrations=[orchestration_out(o) for o in found],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/orchestrations/{orchestration_id}", response_model=OrchestrationOut)
async def orchestration_detail(
    orchestration_id: str, platform: PlatformDep, principal: ConsolePrincipalDep
) -> OrchestrationOut:
    found = await platform.orchestrations.store.get(orchestration_id, principal)
    progress = await platform.orchestrations.progress(principal, orchestration_id)
    return orchestration_out(found, progress)


# -- sandboxes --------------------------------------------------------------------------------


def _offered() -> list[TemplateOut]:
    offered = []
    for name, title in TEMPLATE_TITLES.items():
        template = templates.TEMPLATES[name]
        workspace = name == WORKSPACE_TEMPLATE
        offered.append(
            TemplateOut(
                name=name,
                title=title,
                kind=WORKSPACE_KIND if workspace else "sandbox",
                terminal=workspace,
                vcpus=template.vcpus,
                memory_mb=template.memory_mb,
                timeout_minutes=template.timeout_minutes,
                network=template.network,
            )
        )
    return offered


def sandbox_out(sandbox: Sandbox) -> SandboxOut:
    return SandboxOut(
        id=sandbox.id,
        name=sandbox.name,
        template=sandbox.template,
        kind=sandbox.kind,
        terminal=sandbox.kind in workspaces.KINDS,
        status=sandbox.status,
        progress=sandbox.progress,
        current_step=sandbox.current_step,
        error=sandbox.error_message,
        runtime=sandbox.config.runtime,
        vcpus=sandbox.config.vcpus,
        memory_mb=sandbox.config.memory_mb,
        working_directory=sandbox.config.working_directory,
        created_at=iso(sandbox.created_at) or "",
        started_at=iso(sandbox.started_at),
        last_activity_at=iso(sandbox.last_activity_at),
        executions=sandbox.executions,
    )


@router.get("/sandbox/templates", response_model=TemplateList)
async def sandbox_templates(principal: ConsolePrincipalDep) -> TemplateList:
    return TemplateList(templates=_offered(), default=WORKSPACE_TEMPLATE)


@router.get("/sandboxes", response_model=SandboxPage)
async def list_sandboxes(
    platform: PlatformDep,
    principal: ConsolePrincipalDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> SandboxPage:
    """The caller's own sandboxes and workspaces, newest first."""
    found, total = await platform.sandboxes.list(principal, limit=limit, offset=offset)
    return SandboxPage(sandboxes=[sandbox_out(s) for s in found], total=total)


@router.post("/sandboxes", response_model=SandboxOut, status_code=201)
async def create_sandbox(
    body: SandboxIn, platform: PlatformDep, principal: ConsolePrincipalDep
) -> SandboxOut:
    """Made from a template and started on the worker (`sandbox.status` says how it goes)."""
    workspace = body.template == WORKSPACE_TEMPLATE
    wanted = SandboxRequest(
        name=body.name,
        template=None if workspace else body.template,  # an unknown one is refused by core
        kind=WORKSPACE_KIND if workspace else "sandbox",
    )
    sandbox = await platform.sandboxes.create(principal, wanted)
    try:
        sandbox = await platform.sandboxes.begin_start(principal, sandbox.id)
    except MenagerieError:
        # refused to start (the tier's runtime is spent): no half-made sandbox is left
        await platform.sandboxes.delete(principal, sandbox.id)
        raise
    return sandbox_out(sandbox)


@router.get("/sandboxes/{sandbox_id}", response_model=SandboxOut)
async def sandbox_detail(
    sandbox_id: str, platform: PlatformDep, principal: ConsolePrincipalDep
) -> SandboxOut:
    return sandbox_out(await platform.sandboxes.get(principal, sandbox_id))


@router.post("/sandboxes/{sandbox_id}/start", response_model=SandboxOut)
async def start_sandbox(
    sandbox_id: str, platform: PlatformDep, principal: ConsolePrincipalDep
) -> SandboxOut:
    return sandbox_out(await platform.sandboxes.begin_start(principal, sandbox_id))


@router.post("/sandboxes/{sandbox_id}/stop", response_model=SandboxOut)
async def stop_sandbox(
    sandbox_id: str, platform: PlatformDep, principal: ConsolePrincipalDep
) -> SandboxOut:
    """Its terminals close with it."""
    return sandbox_out(await platform.sandboxes.begin_stop(principal, sandbox_id))


@router.delete("/sandboxes/{sandbox_id}", response_model=Deleted)
async def delete_sandbox(
    sandbox_id: str, platform: PlatformDep, principal: ConsolePrincipalDep
) -> Deleted:
    """Its terminals, processes and files go with it."""
    await platform.sandboxes.delete(principal, sandbox_id)
    return Deleted()


@router.post("/sandboxes/{sandbox_id}/terminal", response_model=TerminalSent)
async def terminal_input(
    sandbox_id: str, body: TerminalIn, platform: PlatformDep, principal: ConsolePrincipalDep
) -> TerminalSent:
    """One command line to the session's shell; only workspaces have one (a Metamorph sandbox
    runs its allowed commands only, so a shell there is not found)."""
    await platform.terminals.send(
        principal, sandbox_id, body.session_id, body.command, kinds=workspaces.KINDS
    )
    return TerminalSent(session_id=body.session_id)


@router.delete("/sandboxes/{sandbox_id}/terminal/{session_id}", response_model=Deleted)
async def close_terminal(
    sandbox_id: str, session_id: str, platform: PlatformDep, principal: ConsolePrincipalDep
) -> Deleted:
    """Ends the session's shell and whatever it runs."""
    await platform.sandboxes.get(principal, sandbox_id)  # only the owner's: else not found
    await platform.terminals.close(sandbox_id, session_id, "terminal closed")
    return Deleted()
