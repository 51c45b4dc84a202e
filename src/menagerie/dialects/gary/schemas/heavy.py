"""Seed 004 "Heavy Orchestration Endpoints": `/api/heavy/*`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from menagerie.core.orchestration.models import Progress, ToolDescription, ToolOutcome


class WorkflowStep(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # its place in the order; the step's position in the list when left out
    step: int | None = Field(None, ge=1, le=10_000, strict=True)
    tool: str = Field(min_length=1, max_length=300)
    parameters: dict[str, Any] = Field(default_factory=dict)


class WorkflowConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    timeout: float = Field(3600, gt=0, le=86_400, strict=True)  # seconds, for the whole
    parallel: StrictBool = False


class OrchestrateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    workflow: list[WorkflowStep] = Field(min_length=1, max_length=50)
    config: WorkflowConfig = Field(default_factory=WorkflowConfig)


class OrchestrationStarted(BaseModel):
    orchestration_id: str
    status: Literal["started"]
    total_steps: int
    # seconds, from the caller's measured steps of the same tools; null: none measured yet
    estimated_duration: int | None


class StepOut(BaseModel):
    step: int
    name: str
    tool: str
    status: str  # pending | running | completed | failed | cancelled
    progress: int
    duration: int  # whole seconds (the seed's integers): measured once ended, so far while running
    error: str | None  # why it failed or was cancelled: `CODE: message`
    result: Any  # the tool's result once the step completed (a report: its stored file)


class ProgressOut(BaseModel):
    orchestration_id: str
    progress: float
    status: str  # pending | running | completed | failed | cancelled
    current_step: int
    total_steps: int
    steps: list[StepOut]
    # whole seconds, from measured durations; null while nothing was measured
    estimated_time_remaining: int | None
    error: str | None

    @classmethod
    def of(cls, progress: Progress) -> ProgressOut:
        return cls(
            orchestration_id=progress.orchestration_id,
            progress=progress.progress,
            status=progress.status,
            current_step=progress.current_step,
            total_steps=progress.total_steps,
            steps=[
                StepOut(
                    step=s.number,
                    name=s.name,
                    tool=s.tool,
                    status=s.status,
                    progress=s.progress,
                    duration=round(s.duration_s),
                    error=s.error,
                    result=s.result,
                )
                for s in progress.steps
            ],
            estimated_time_remaining=None
            if progress.estimated_time_remaining is None
            else round(progress.estimated_time_remaining),
            error=progress.error,
        )


class ParameterOut(BaseModel):
    type: str
    enum: list[str] | None = None  # left out where the parameter has no fixed values
    description: str
    required: bool


class HeavyToolOut(BaseModel):
    name: str
    description: str
    category: str
    parameters: dict[str, ParameterOut]

    @classmethod
    def of(cls, tool: ToolDescription) -> HeavyToolOut:
        return cls(
            name=tool.name,
            description=tool.description,
            category=tool.category,
            parameters={
                p.name: ParameterOut(
                    type=p.type,
                    enum=list(p.enum) if p.enum is not None else None,
                    description=p.description,
                    required=p.required,
                )
                for p in tool.parameters
            },
        )


class ExecuteToolBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    tool_name: str = Field(min_length=1, max_length=300)
    parameters: dict[str, Any] = Field(default_factory=dict)


class ExecuteToolOut(BaseModel):
    result: dict[str, Any] | None  # the tool's own result; null when it failed
    execution_time: float  # seconds
    success: bool
    error: str | None  # why it failed: `CODE: message`; null on success

    @classmethod
    def of(cls, outcome: ToolOutcome) -> ExecuteToolOut:
        return cls(
            result=outcome.result,
            execution_time=outcome.seconds,
            success=outcome.success,
            error=outcome.error,
        )
