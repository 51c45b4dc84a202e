"""Crazy Gary's heavy orchestration (seed 004 "Heavy Orchestration Endpoints"): steps of tools
run as one run on a worker (core's `Orchestrations`), their progress, the tools, and one
tool run on its own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from menagerie.core.orchestration.models import StepRequest
from menagerie.dialects.gary.deps import OptionalPrincipalDep, PlatformDep, PrincipalDep
from menagerie.dialects.gary.schemas.heavy import (
    ExecuteToolBody,
    ExecuteToolOut,
    HeavyToolOut,
    OrchestrateBody,
    OrchestrationStarted,
    ProgressOut,
)
from menagerie.http.openapi import errors

router = APIRouter(prefix="/api/heavy", tags=["heavy"])


@router.post("/orchestrate", response_model=OrchestrationStarted, responses=errors(400, 409, 503))
async def orchestrate(
    body: OrchestrateBody, platform: PlatformDep, principal: PrincipalDep
) -> OrchestrationStarted:
    orchestration, estimate = await platform.orchestrations.submit(
        principal,
        [StepRequest(s.tool, s.parameters, s.step) for s in body.workflow],
        parallel=body.config.parallel,
        timeout_s=body.config.timeout,
    )
    return OrchestrationStarted(
        orchestration_id=orchestration.id,
        status="started",
        total_steps=len(orchestration.steps),
        estimated_duration=None if estimate is None else round(estimate),
    )


@router.get("/progress", response_model=ProgressOut, responses=errors(404))
async def progress(
    platform: PlatformDep,
    principal: PrincipalDep,
    orchestration_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> ProgressOut:
    return ProgressOut.of(await platform.orchestrations.progress(principal, orchestration_id))


@router.get("/tools", response_model=list[HeavyToolOut], response_model_exclude_none=True)
async def tools(platform: PlatformDep, principal: OptionalPrincipalDep) -> list[HeavyToolOut]:
    """The seed shows no credentials here: the built-in tools for anyone, and the caller's
    installed MCP servers' tools for a signed-in caller."""
    return [HeavyToolOut.of(tool) for tool in platform.orchestrations.listed(principal)]


@router.post("/tools/execute", response_model=ExecuteToolOut, responses=errors(400, 409, 503))
async def execute(
    body: ExecuteToolBody, platform: PlatformDep, principal: PrincipalDep
) -> ExecuteToolOut:
    outcome = await platform.orchestrations.execute_tool(principal, body.tool_name, body.parameters)
    return ExecuteToolOut.of(outcome)
