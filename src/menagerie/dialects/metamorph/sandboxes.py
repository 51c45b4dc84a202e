"""Metamorph's sandboxes (seed 003 "Sandbox Endpoints"): lifecycle, commands, files, agent."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.convertors import Convertor, register_url_convertor

from menagerie.core.clock import iso, utcnow
from menagerie.core.sandboxes.models import FileWrite, Sandbox, SandboxRequest
from menagerie.dialects.metamorph.deps import CurrentVault, PlatformDep
from menagerie.dialects.metamorph.schemas import Deleted
from menagerie.dialects.metamorph.schemas.sandboxes import (
    AgentAnswer,
    AgentDefaults,
    AgentMessage,
    AgentReply,
    AgentSettings,
    Attach,
    Attached,
    AttachedAgent,
    AttachedConfig,
    CreatedConfig,
    Execute,
    Executed,
    FileOutcome,
    FilesWritten,
    LimitError,
    Limits,
    NewSandbox,
    Period,
    Remaining,
    SandboxCreated,
    SandboxDetail,
    SandboxList,
    SandboxSummary,
    Started,
    Status,
    StoppedBody,
    Usage,
    UsageFigures,
    WriteFiles,
)
from menagerie.http.openapi import errors

router = APIRouter(prefix="/api/sandboxes", tags=["sandboxes"])


class SandboxIdConvertor(Convertor[str]):
    """Any path segment but `usage`, so that `/api/sandboxes/usage` belongs to the usage
    route alone (its `Allow` is GET, not the DELETE of a sandbox named "usage")."""

    regex = "(?!usage$)[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("sandbox_id", SandboxIdConvertor())
ONE = "/{sandbox_id:sandbox_id}"  # one sandbox


def _iso(moment: datetime) -> str:
    text = iso(moment)
    assert text is not None
    return text


def _summary(sandbox: Sandbox) -> SandboxSummary:
    config = sandbox.config
    return SandboxSummary(
        id=sandbox.id,
        name=sandbox.name,
        status=sandbox.status,
        runtime=config.runtime,
        vcpus=config.vcpus,
        memoryMb=config.memory_mb,
        timeoutMinutes=config.timeout_minutes,
        workingDirectory=config.working_directory,
        hasAgent=sandbox.agent is not None,
        createdAt=_iso(sandbox.created_at),
        startedAt=iso(sandbox.started_at),
        stoppedAt=iso(sandbox.stopped_at),
        lastActivityAt=iso(sandbox.last_activity_at),
        totalRuntimeSeconds=round(sandbox.total_runtime_seconds),
        errorMessage=sandbox.error_message,
    )


def _detail(sandbox: Sandbox) -> SandboxDetail:
    agent = sandbox.agent
    return SandboxDetail(
        **_summary(sandbox).model_dump(exclude={"hasAgent"}),
        environment=sandbox.config.environment,
        agent=(
            AttachedAgent(
                sessionId=agent.session_id,
                config=AgentSettings(
                    intensity=agent.intensity,
                    coherenceFloor=agent.coherence_floor,
                    enableProactiveMemory=agent.enable_proactive_memory,
                ),
            )
            if agent is not None
            else None
        ),
        vercelSandboxId=sandbox.id,
        backend=sandbox.backend,
        template=sandbox.template,
    )


@router.post(
    "",
    status_code=201,
    response_model=SandboxCreated,
    responses={**errors(503), 429: {"model": LimitError, "description": "tier limit reached"}},
)
async def create_sandbox(
    body: NewSandbox, vault: CurrentVault, platform: PlatformDep
) -> SandboxCreated:
    sandbox = await platform.sandboxes.create(
        vault.principal,
        SandboxRequest(
            name=body.name,
            template=body.template,
            runtime=body.runtime,
            vcpus=body.vcpus,
            memory_mb=body.memoryMb,
            timeout_minutes=body.timeoutMinutes,
            environment=body.environment,
            working_directory=body.workingDirectory,
        ),
    )
    config = sandbox.config
    defaults = sandbox.agent_defaults
    return SandboxCreated(
        id=sandbox.id,
        name=sandbox.name,
        status=sandbox.status,
        config=CreatedConfig(
            runtime=config.runtime,
            vcpus=config.vcpus,
            memoryMb=config.memory_mb,
            timeoutMinutes=config.timeout_minutes,
        ),
        agentConfig=AgentDefaults(
            intensity=int(defaults.get("intensity", 50)),
            enableProactiveMemory=bool(defaults.get("enableProactiveMemory", False)),
        ),
        createdAt=_iso(sandbox.created_at),
    )


@router.get("", response_model=SandboxList)
async def list_sandboxes(
    vault: CurrentVault,
    platform: PlatformDep,
    status: Annotated[Status | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> SandboxList:
    sandboxes, total = await platform.sandboxes.list(
        vault.principal, status=status, limit=limit, offset=offset
    )
    return SandboxList(
        sandboxes=[_summary(s) for s in sandboxes], total=total, limit=limit, offset=offset
    )


# declared before `/{sandbox_id}`, which would otherwise take "usage" for an id
@router.get("/usage", response_model=Usage)
async def usage(vault: CurrentVault, platform: PlatformDep) -> Usage:
    report = await platform.sandboxes.usage(vault.principal)
    limits = report.limits
    return Usage(
        tier=report.tier,
        period=Period(start=_iso(report.period_start), end=_iso(report.period_end)),
        usage=UsageFigures(
            activeSandboxes=report.active_sandboxes,
            totalSandboxesCreated=report.total_sandboxes_created,
            runtimeHours=report.runtime_hours,
            totalExecutions=report.total_executions,
        ),
        limits=Limits(
            maxSandboxes=limits.max_sandboxes,
            maxRuntimeHours=limits.max_runtime_hours,
            maxVcpus=limits.max_vcpus,
            maxMemoryMb=limits.max_memory_mb,
            maxTimeoutMinutes=limits.max_timeout_minutes,
        ),
        remaining=Remaining(
            sandboxes=report.remaining_sandboxes, runtimeHours=report.remaining_runtime_hours
        ),
        limitExceeded=report.limit_exceeded,
    )


@router.get(ONE, response_model=SandboxDetail, responses=errors(404))
async def get_sandbox(sandbox_id: str, vault: CurrentVault, platform: PlatformDep) -> SandboxDetail:
    return _detail(await platform.sandboxes.get(vault.principal, sandbox_id))


@router.delete(ONE, response_model=Deleted, responses=errors(404))
async def delete_sandbox(sandbox_id: str, vault: CurrentVault, platform: PlatformDep) -> Deleted:
    deleted = await platform.sandboxes.delete(vault.principal, sandbox_id)
    return Deleted(deletedAt=_iso(deleted.deleted_at))


@router.post(f"{ONE}/start", response_model=Started, responses=errors(404, 409, 503))
async def start_sandbox(sandbox_id: str, vault: CurrentVault, platform: PlatformDep) -> Started:
    sandbox = await platform.sandboxes.start_sandbox(vault.principal, sandbox_id)
    return Started(
        id=sandbox.id, status=sandbox.status, startedAt=_iso(sandbox.started_at or utcnow())
    )


@router.post(f"{ONE}/stop", response_model=StoppedBody, responses=errors(404, 409))
async def stop_sandbox(sandbox_id: str, vault: CurrentVault, platform: PlatformDep) -> StoppedBody:
    stopped = await platform.sandboxes.stop_sandbox(vault.principal, sandbox_id)
    sandbox = stopped.sandbox
    return StoppedBody(
        id=sandbox.id,
        status=sandbox.status,
        stoppedAt=_iso(sandbox.stopped_at or utcnow()),
        runtimeSeconds=round(stopped.runtime_seconds),
    )


@router.post(f"{ONE}/execute", response_model=Executed, responses=errors(403, 404, 409))
async def execute(
    sandbox_id: str, body: Execute, vault: CurrentVault, platform: PlatformDep
) -> Executed:
    result = await platform.sandboxes.execute(
        vault.principal, sandbox_id, body.command, cwd=body.cwd, timeout_ms=body.timeout
    )
    return Executed(
        success=result.success,
        stdout=result.stdout,
        stderr=result.stderr,
        exitCode=result.exit_code,
        executionTimeMs=result.execution_time_ms,
        timedOut=result.timed_out,
        truncated=result.truncated,
    )


@router.post(
    f"{ONE}/files",
    response_model=FilesWritten,
    response_model_exclude_none=True,
    responses=errors(404, 409),
)
async def write_files(
    sandbox_id: str, body: WriteFiles, vault: CurrentVault, platform: PlatformDep
) -> FilesWritten:
    results = await platform.sandboxes.write_files(
        vault.principal, sandbox_id, [FileWrite(f.path, f.content) for f in body.files]
    )
    return FilesWritten(
        results=[FileOutcome(path=r.path, success=r.success, error=r.error) for r in results],
        successCount=sum(r.success for r in results),
        totalCount=len(results),
    )


@router.post(f"{ONE}/agent/attach", response_model=Attached, responses=errors(404, 409))
async def attach_agent(
    sandbox_id: str, vault: CurrentVault, platform: PlatformDep, body: Attach | None = None
) -> Attached:
    config = (body or Attach()).config  # no body: the template's agent settings
    attached = await platform.sandbox_agents.attach(
        vault.principal, sandbox_id, config.model_dump(exclude_none=True)
    )
    return Attached(
        sessionId=attached.session_id,
        config=AttachedConfig(
            intensity=attached.intensity,
            coherenceFloor=attached.coherence_floor,
            enableProactiveMemory=attached.enable_proactive_memory,
            sandboxed=True,
            sandboxId=sandbox_id,
            vaultId=vault.vault_id,
        ),
        attachedAt=_iso(attached.attached_at),
    )


@router.post(f"{ONE}/agent/chat", response_model=AgentReply, responses=errors(404, 409))
async def agent_chat(
    sandbox_id: str, body: AgentMessage, vault: CurrentVault, platform: PlatformDep
) -> AgentReply:
    began = time.perf_counter()
    reply = await platform.sandbox_agents.chat(vault.principal, sandbox_id, body.message)
    return AgentReply(
        response=AgentAnswer(
            message=reply.message,
            userMessage=reply.user_message,
            sessionId=reply.session_id,
            sandboxId=reply.sandbox_id,
            timestamp=_iso(reply.done.message.created_at),
        ),
        sessionId=reply.session_id,
        executionTimeMs=round((time.perf_counter() - began) * 1000),
    )
