"""MADACE workflows (seed 001): definitions, a tenant's state, and executing the next step
through the workflow's agent."""

from __future__ import annotations

from fastapi import APIRouter

from menagerie.core.clock import epoch_ms
from menagerie.core.workflows.models import WorkflowDefinition
from menagerie.dialects.madace.config import preferred_model
from menagerie.dialects.madace.deps import PlatformDep, PrincipalDep
from menagerie.dialects.madace.schemas.workflows import (
    ExecuteRequest,
    StepExecuted,
    StepOut,
    WorkflowDetail,
    WorkflowList,
    WorkflowStateOut,
    WorkflowSummary,
)
from menagerie.http.openapi import errors

router = APIRouter(prefix="/api/workflows", tags=["workflows"])


def _summary(workflow: WorkflowDefinition) -> WorkflowSummary:
    return WorkflowSummary(
        name=workflow.name, agent=workflow.agent, phase=workflow.phase, steps=len(workflow.steps)
    )


@router.get("", response_model=WorkflowList)
async def list_workflows(platform: PlatformDep, principal: PrincipalDep) -> WorkflowList:
    return WorkflowList(workflows=[_summary(w) for w in platform.workflows.list()])


@router.get("/{name}", response_model=WorkflowDetail, responses=errors(404))
async def get_workflow(name: str, platform: PlatformDep, principal: PrincipalDep) -> WorkflowDetail:
    workflow = platform.workflows.get(name)
    return WorkflowDetail(
        name=workflow.name,
        description=workflow.description,
        agent=workflow.agent,
        phase=workflow.phase,
        steps=[StepOut(name=s.name, action=s.action, prompt=s.prompt) for s in workflow.steps],
    )


@router.get("/{name}/state", response_model=WorkflowStateOut, responses=errors(404))
async def get_state(name: str, platform: PlatformDep, principal: PrincipalDep) -> WorkflowStateOut:
    state = await platform.workflows.state(principal, name)
    return WorkflowStateOut(
        workflowName=state.workflow_name,
        currentStep=state.current_step,
        totalSteps=state.total_steps,
        completed=state.completed,
        startedAt=epoch_ms(state.started_at),
        variables=state.variables,
    )


@router.post("/{name}/execute", response_model=StepExecuted, responses=errors(404, 413, 429, 503))
async def execute(
    name: str, body: ExecuteRequest, platform: PlatformDep, principal: PrincipalDep
) -> StepExecuted:
    outcome = await platform.workflows.execute(
        principal, name, body.userInput, model=await preferred_model(platform, principal)
    )
    state = outcome.state
    return StepExecuted(
        currentStep=state.current_step,
        totalSteps=state.total_steps,
        completed=state.completed,
        agentResponse=outcome.agent_response,
        nextPrompt=outcome.next_prompt,
    )
