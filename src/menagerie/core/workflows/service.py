"""Running workflows: each `execute` runs the next step through the workflow's agent in the
agent loop and records where the tenant's run stands.

A step's prompt and the user's input make the agent's message; the steps of one run share a
chat session, so the agent sees the earlier answers. The input is kept in the state's
`variables` under the step's variable. Executing a completed workflow starts it again.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from menagerie.core.agents.runtime import AgentRuntime, TurnRequest
from menagerie.core.clock import utcnow
from menagerie.core.errors import Invalid, NotFound
from menagerie.core.identity.models import Principal
from menagerie.core.workflows.definitions import WorkflowCatalog
from menagerie.core.workflows.models import (
    StepOutcome,
    WorkflowDefinition,
    WorkflowState,
    WorkflowStep,
)
from menagerie.core.workflows.states import WorkflowStates

MAX_INPUT_CHARS = 8000


def step_message(
    workflow: WorkflowDefinition, index: int, step: WorkflowStep, user_input: str
) -> str:
    lines = [
        f"Workflow '{workflow.name}' ({workflow.phase}), step {index + 1} of "
        f"{len(workflow.steps)}: {step.name} [{step.action}]",
        step.prompt,
    ]
    if user_input:
        lines.append(f"User input: {user_input}")
    return "\n\n".join(lines)


class WorkflowService:
    def __init__(
        self, catalog: WorkflowCatalog, states: WorkflowStates, agents: AgentRuntime
    ) -> None:
        self.catalog = catalog
        self.states = states
        self.agents = agents
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def list(self) -> list[WorkflowDefinition]:
        return self.catalog.list()

    def get(self, name: str) -> WorkflowDefinition:
        return self.catalog.get(name)

    async def state(self, principal: Principal, name: str) -> WorkflowState:
        self.catalog.get(name)
        found = await self.states.get(principal.tenant_id, name)
        if found is None:
            raise NotFound(
                f"Workflow state for '{name}' does not exist: no step has run yet",
                reason="WORKFLOW_STATE_NOT_FOUND",
            )
        return found

    async def execute(
        self, principal: Principal, name: str, user_input: str, *, model: str | None = None
    ) -> StepOutcome:
        """Run the next step; `model` is the tenant's preferred model, passed over when it
        cannot be called."""
        workflow = self.catalog.get(name)
        if len(user_input) > MAX_INPUT_CHARS:
            raise Invalid(
                f"userInput is longer than {MAX_INPUT_CHARS} characters",
                field="userInput",
                expected=f"at most {MAX_INPUT_CHARS} characters",
            )
        lock = self._locks.setdefault((principal.tenant_id, name), asyncio.Lock())
        async with lock:
            state = await self.states.get(principal.tenant_id, name)
            now = utcnow()
            if state is None or state.completed or state.current_step >= len(workflow.steps):
                state = WorkflowState(
                    tenant_id=principal.tenant_id,
                    workflow_name=name,
                    current_step=0,
                    total_steps=len(workflow.steps),
                    completed=False,
                    started_at=now,
                    updated_at=now,
                )
            index = state.current_step
            step = workflow.steps[index]
            if step.action == "elicit" and not user_input:
                raise Invalid(
                    f"step '{step.name}' asks the user: userInput is required",
                    field="userInput",
                    missing=True,
                    expected="the answer to the step's prompt",
                )
            done = await self.agents.complete(
                principal,
                TurnRequest(
                    agent=workflow.agent,
                    message=step_message(workflow, index, step, user_input),
                    session_id=state.session_id,
                    create_session=True,
                    model=model,
                    model_is_preference=True,
                    session_metadata={"workflow": name},
                    message_metadata={"workflow": name, "step": index + 1},
                ),
            )
            variables = dict(state.variables)
            if user_input:
                variables[step.variable_name] = user_input
            finished = index + 1 >= len(workflow.steps)
            state = replace(
                state,
                current_step=index + 1,
                total_steps=len(workflow.steps),
                completed=finished,
                updated_at=utcnow(),
                variables=variables,
                session_id=done.message.session_id,
            )
            await self.states.put(state)
        return StepOutcome(
            state=state,
            agent_response=done.message.content,
            next_prompt=None if finished else workflow.steps[index + 1].prompt,
        )
