"""PodPlay's Scout projects (`/api/v1/scout_agent/projects…`, seed 000 "Scout Agent API"): a
project is built by a run on the worker in a workspace of its own (core/scout), and deploys to
this machine (`local`) or to the tenant's Vercel account. Its progress and deployments are
also socket.io's `project_update` and `deployment_status` (realtime/podplay_scout.py)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from menagerie.core.scout.progress import duration_text
from menagerie.dialects.podplay.deps import PlatformDep, PrincipalDep
from menagerie.dialects.podplay.schemas.scout import (
    CreateBody,
    CreatedOut,
    DeployBody,
    DeployedOut,
    Pagination,
    ProjectOut,
    ProjectsOut,
    StatusFilter,
    StatusOut,
    list_word,
)
from menagerie.http.openapi import errors

router = APIRouter(prefix="/api/v1/scout_agent/projects", tags=["scout"])

# each list filter word: the core states it stands for (`paused`: stopped before the end)
FILTERS = {
    "active": ("initializing", "building"),
    "completed": ("completed",),
    "paused": ("cancelled",),
    "failed": ("failed",),
    "initializing": ("initializing",),
}


@router.get("", response_model=ProjectsOut)
async def list_projects(
    platform: PlatformDep,
    principal: PrincipalDep,
    status: StatusFilter | None = None,
    limit: int = Query(20, ge=1, le=100),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> ProjectsOut:
    states = FILTERS[status] if status is not None else None
    found, total = await platform.scout.list(principal, states=states, limit=limit, offset=offset)
    return ProjectsOut(
        projects=[ProjectOut.of(view) for view in found],
        pagination=Pagination(total=total, limit=limit, offset=offset),
    )


@router.post("", response_model=CreatedOut, status_code=201, responses=errors(409, 429, 503))
async def create_project(
    body: CreateBody, platform: PlatformDep, principal: PrincipalDep
) -> CreatedOut:
    view = await platform.scout.create(
        principal,
        name=body.name,
        description=body.description,
        template=body.template,
        features=body.features,
        configuration=body.configuration,
        repository=body.repository.model_dump() if body.repository else None,
    )
    project = view.project
    setup = await platform.scout.estimated_setup_s(project.template)
    return CreatedOut(
        project_id=project.id,
        name=project.name,
        status=list_word(project.status),
        workspace_id=project.workspace_id,
        repository_url=None,
        estimated_setup_time=(
            duration_text(setup)
            if setup is not None
            else "not measured yet: no project of this template has finished on this server"
        ),
        next_steps=[step.name for step in project.plan],
    )


@router.get("/{project_name}/status", response_model=StatusOut, responses=errors(404))
async def project_status(
    project_name: str, platform: PlatformDep, principal: PrincipalDep
) -> StatusOut:
    return StatusOut.of(await platform.scout.find(principal, project_name))


@router.post("/{project_id}/deploy", response_model=DeployedOut, responses=errors(404, 409, 503))
async def deploy_project(
    project_id: str, body: DeployBody, platform: PlatformDep, principal: PrincipalDep
) -> DeployedOut:
    deployment = await platform.scout.deploy(
        principal,
        project_id,
        platform=body.platform,
        environment=body.environment,
        domain=body.configuration.domain,
        variables=body.configuration.environment_variables,
    )
    return DeployedOut.of(deployment)
