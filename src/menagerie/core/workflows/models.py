"""A workflow's definition and the state of one tenant's run of it, as typed values."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# what a step asks of the user: `elicit` needs an answer, the others run on what is known
Action = Literal["elicit", "reflect", "guide", "template", "validate", "sub-workflow"]


class WorkflowStep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    action: Action
    # with the user's input (8,000) and the step's heading, within a chat message's 10,000
    prompt: str = Field(min_length=1, max_length=1500)
    # where the user's input to this step is kept in the state's `variables`
    variable: str | None = None

    @field_validator("variable")
    @classmethod
    def _variable(cls, value: str | None) -> str | None:
        if value is not None and not VARIABLE.match(value):
            raise ValueError("a variable is a letter or _, then letters, digits or _")
        return value

    @property
    def variable_name(self) -> str:
        return self.variable or re.sub(r"[^a-z0-9]+", "_", self.name.lower()).strip("_") or "input"


class WorkflowDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = Field("", max_length=2000)
    agent: str = Field(min_length=1, max_length=100)
    phase: str = Field(min_length=1, max_length=100)
    steps: tuple[WorkflowStep, ...] = Field(min_length=1, max_length=100)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError("a name is lower-case letters, digits, '.', '-' or '_'")
        return value


@dataclass(frozen=True, slots=True)
class WorkflowState:
    """One tenant's run of a workflow: `current_step` steps done of `total_steps`."""

    tenant_id: str
    workflow_name: str
    current_step: int
    total_steps: int
    completed: bool
    started_at: datetime
    updated_at: datetime
    variables: dict[str, Any] = field(default_factory=dict)
    session_id: str | None = None  # the conversation the steps are held in

    @property
    def status(self) -> Literal["running", "completed"]:
        return "completed" if self.completed else "running"


@dataclass(frozen=True, slots=True)
class StepOutcome:
    state: WorkflowState
    agent_response: str
    next_prompt: str | None  # None once the last step is done
