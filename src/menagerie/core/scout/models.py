"""Scout's typed values: projects, their plan steps as they ran, and deployments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

ProjectState = Literal["initializing", "building", "completed", "failed", "cancelled"]
StepState = Literal["pending", "active", "completed", "failed"]
DeploymentState = Literal["deploying", "deployed", "failed", "stopped"]
PLATFORMS: tuple[str, ...] = ("local", "vercel")


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One step of a plan: files written into the workspace, then commands run there."""

    id: str  # step_1, step_2 …
    name: str
    files: dict[str, str]
    commands: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "files": self.files, "commands": self.commands}

    @classmethod
    def of(cls, data: dict[str, Any]) -> PlanStep:
        return cls(data["id"], data["name"], dict(data["files"]), tuple(data["commands"]))


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    tenant_id: str
    user_id: str
    name: str
    description: str
    template: str
    features: tuple[str, ...]
    configuration: dict[str, str]
    technologies: tuple[str, ...]
    workspace_id: str
    status: ProjectState
    plan: tuple[PlanStep, ...]
    planned_by: str  # "template", or "agent:<model>" when the agent loop made the plan
    run_id: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class StepProgress:
    id: str
    name: str
    status: StepState
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    estimated_completion: datetime | None  # an active or pending step, once estimable


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a project's run stands, from the step log and measured durations."""

    steps: tuple[StepProgress, ...]
    active_step_id: str | None
    percent: int
    elapsed_s: float
    remaining_s: float | None  # None: nothing measured yet to estimate from
    estimated_completion: datetime | None


@dataclass(frozen=True, slots=True)
class ProjectView:
    project: Project
    progress: Progress


@dataclass(frozen=True, slots=True)
class Deployment:
    id: str
    project_id: str
    platform: str
    environment: str
    status: DeploymentState
    url: str | None
    logs_url: str | None
    error: str | None
    duration_s: float | None
    created_at: datetime
