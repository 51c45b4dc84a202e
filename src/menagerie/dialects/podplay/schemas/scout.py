"""PodPlay's Scout project wire models (seed 000 "Scout Agent API").

Fields the seed does not show are Menagerie's additions, marked so; the ones that may be null
are listed in docs/contract.md and tests/contract/specs/podplay.py.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from menagerie.core.clock import iso
from menagerie.core.scout.models import Deployment, ProjectView, StepProgress
from menagerie.core.scout.progress import duration_text

# the list's filter: the seed's three words and the two a project may also end in
StatusFilter = Literal["active", "completed", "paused", "failed", "initializing"]
Text = Annotated[str, Field(max_length=100)]
# core/scout/plans.py's templates (each with a fixed plan, documented there)
Template = Literal["static-site", "react-typescript", "python-api"]

# core's states in each place's words: the list's (`active`) and the status route's (`running`)
LIST_WORDS = {"building": "active", "cancelled": "paused"}
OVERALL_WORDS = {"building": "running", "cancelled": "paused"}


def list_word(state: str) -> str:
    return LIST_WORDS.get(state, state)


# ---- requests ------------------------------------------------------------------------------


class RepositoryIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    create: StrictBool = Field(
        False, description="recorded; no repository is created (no GitHub connection is driven)"
    )
    name: str | None = Field(None, max_length=100)
    private: StrictBool = False


class CreateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="unique among the caller's projects; the status route's `{project_name}`",
    )
    description: str = Field("", max_length=2000)
    template: Template | None = Field(None, description="default: static-site")
    features: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]] = Field(
        default_factory=list, max_length=20, description="lower-case words"
    )
    configuration: dict[Text, Text] = Field(default_factory=dict, max_length=20)
    repository: RepositoryIn | None = None


class DeployConfigurationIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    domain: str | None = Field(None, max_length=253, description="recorded; not assigned")
    environment_variables: dict[Annotated[str, Field(max_length=128)], str] = Field(
        default_factory=dict, max_length=100, description="passed to Vercel; unused by `local`"
    )


class DeployBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    environment: Literal["production", "preview", "development"] = "production"
    platform: Literal["local", "vercel"] = Field(
        "local", description="local: served by this machine; vercel: the tenant's connection"
    )
    configuration: DeployConfigurationIn = Field(default_factory=DeployConfigurationIn)


# ---- responses -----------------------------------------------------------------------------


class ProjectOut(BaseModel):
    project_id: str
    name: str
    description: str
    status: str = Field(description="initializing, active, completed, failed or paused")
    created_at: str
    updated_at: str
    completion_percentage: int
    workspace_id: str
    repository_url: str | None = Field(description="always null: no repository is created")
    technologies: list[str]
    estimated_completion: str | None = Field(
        description="null until some step has been measured on this server"
    )
    # Menagerie's additions
    template: str
    features: list[str]
    error: str | None = Field(None, description="why the build failed")

    @classmethod
    def of(cls, view: ProjectView) -> Self:
        project, measured = view.project, view.progress
        return cls(
            project_id=project.id,
            name=project.name,
            description=project.description,
            status=list_word(project.status),
            created_at=iso(project.created_at) or "",
            updated_at=iso(project.updated_at) or "",
            completion_percentage=measured.percent,
            workspace_id=project.workspace_id,
            repository_url=None,
            technologies=list(project.technologies),
            estimated_completion=iso(measured.estimated_completion),
            template=project.template,
            features=list(project.features),
            error=project.error,
        )


class Pagination(BaseModel):
    total: int
    limit: int
    offset: int


class ProjectsOut(BaseModel):
    success: bool = True
    projects: list[ProjectOut]
    pagination: Pagination


class CreatedOut(BaseModel):
    success: bool = True
    project_id: str
    name: str
    status: str
    workspace_id: str
    repository_url: str | None = Field(description="always null: no repository is created")
    estimated_setup_time: str = Field(description="from the projects measured on this server")
    next_steps: list[str] = Field(description="the plan's steps (the agent may replace them)")


class PlanStepOut(BaseModel):
    id: str
    name: str
    status: str = Field(description="pending, active, completed or failed")
    started_at: str | None
    completed_at: str | None = Field(description="when it ended (completed or failed)")
    estimated_completion: str | None = Field(description="an unfinished step, once estimable")
    duration_seconds: float | None = Field(description="Menagerie's addition: measured")

    @classmethod
    def of(cls, step: StepProgress) -> Self:
        return cls(
            id=step.id,
            name=step.name,
            status=step.status,
            started_at=iso(step.started_at),
            completed_at=iso(step.finished_at),
            estimated_completion=iso(step.estimated_completion),
            duration_seconds=step.duration_s,
        )


class StatusOut(BaseModel):
    success: bool = True
    project_goal: str
    project_overall_status: str = Field(
        description="initializing, running, completed, failed or paused"
    )
    project_current_plan: list[PlanStepOut]
    project_active_step_id: str | None
    project_associated_workspace_id: str
    progress_percentage: int
    time_elapsed: str
    estimated_remaining: str | None = Field(
        description="null while nothing has been measured to estimate from, or after a failure"
    )
    # Menagerie's additions
    project_id: str
    planned_by: str = Field(description="template, or agent:<model> for the agent loop's plan")
    error: str | None = None

    @classmethod
    def of(cls, view: ProjectView) -> Self:
        project, measured = view.project, view.progress
        remaining = measured.remaining_s
        return cls(
            project_goal=f"Develop and maintain project: {project.name}",
            project_overall_status=OVERALL_WORDS.get(project.status, project.status),
            project_current_plan=[PlanStepOut.of(step) for step in measured.steps],
            project_active_step_id=measured.active_step_id,
            project_associated_workspace_id=project.workspace_id,
            progress_percentage=measured.percent,
            time_elapsed=duration_text(measured.elapsed_s),
            estimated_remaining=None if remaining is None else duration_text(remaining),
            project_id=project.id,
            planned_by=project.planned_by,
            error=project.error,
        )


class DeployedOut(BaseModel):
    success: bool = True
    deployment_id: str
    project_id: str
    status: str = Field(description="deployed (local), deploying while Vercel builds")
    platform: str
    deployment_url: str
    estimated_duration: str = Field(description="this deploy's measured time so far")
    logs_url: str | None = Field(description="Vercel's inspector; null for local")
    # Menagerie's addition
    environment: str

    @classmethod
    def of(cls, deployment: Deployment) -> Self:
        return cls(
            deployment_id=deployment.id,
            project_id=deployment.project_id,
            status=deployment.status,
            platform=deployment.platform,
            deployment_url=deployment.url or "",
            estimated_duration=duration_text(deployment.duration_s or 0.0),
            logs_url=deployment.logs_url,
            environment=deployment.environment,
        )
