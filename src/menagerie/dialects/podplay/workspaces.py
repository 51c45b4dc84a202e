"""PodPlay's development workspaces (`/api/workspaces…`, seed 000 "Development Workspaces
API"): sandboxes of kind nixos, codespace (run by the local sandbox backend) or docker
(refused: no Docker engine is driven). Their terminals are socket.io's (`socket.py`)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from menagerie.core.errors import Invalid, MenagerieError
from menagerie.core.sandboxes import workspaces
from menagerie.core.sandboxes.models import SandboxRequest
from menagerie.dialects.podplay.deps import WORKSPACES, PlatformDep, PrincipalDep, under_maintenance
from menagerie.dialects.podplay.schemas.workspaces import (
    CreateBody,
    CreatedOut,
    DeletedOut,
    StartedOut,
    StatusFilter,
    StoppedOut,
    WorkspaceDetailOut,
    WorkspaceOut,
    WorkspacesOut,
    WorkspaceType,
    megabytes,
)
from menagerie.http.openapi import errors
from menagerie.realtime.podplay_workspaces import status_word

router = APIRouter(prefix="/api/workspaces", tags=["workspaces"], **under_maintenance(WORKSPACES))

# core's field names, where a size outside the tier is refused, in this seed's words
FIELDS = {"memoryMb": "configuration.memory", "vcpus": "configuration.cpu_cores"}


def duration_text(seconds: float) -> str:
    """A measured duration as PodPlay's estimates read ("3-5 minutes" in the seed)."""
    if seconds <= 0:
        return "not measured yet: no workspace has started on this server"
    if seconds < 1:
        return "under 1 second"
    if seconds < 90:
        whole = round(seconds)
        return f"about {whole} second{'s' if whole != 1 else ''}"
    return f"about {round(seconds / 60)} minutes"


def access_url(request: Request, workspace_id: str) -> str:
    """This server's URL of the workspace: a stand-in for a hosted IDE's (docs/contract.md).

    Built from the request's own URL, which holds the dialect's mount path (`/podplay`, or
    none at the root) that `base_url` leaves out for a mounted app."""
    mount = request.url.path.split(router.prefix, 1)[0]
    return str(request.url.replace(path=f"{mount}{router.prefix}/{workspace_id}", query=""))


@router.get("", response_model=WorkspacesOut, response_model_exclude_none=True)
async def list_workspaces(
    request: Request,
    platform: PlatformDep,
    principal: PrincipalDep,
    status: StatusFilter | None = None,
    type: WorkspaceType | None = None,
) -> WorkspacesOut:
    found = await workspaces.workspaces(platform.sandboxes, principal, kind=type)
    if status is not None:  # "paused" matches none: a workspace is never paused
        found = [item for item in found if status_word(item.status) == status]
    return WorkspacesOut(
        workspaces=[WorkspaceOut.of(item, access_url(request, item.id)) for item in found]
    )


@router.post(
    "",
    response_model=CreatedOut,
    status_code=201,
    responses=errors(429, 503),
)
async def create_workspace(
    body: CreateBody, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> CreatedOut:
    workspaces.require_runnable(body.type)
    config = body.configuration
    wanted = SandboxRequest(
        name=body.name,
        template=body.template,
        kind=body.type,
        vcpus=config.cpu_cores,
        memory_mb=megabytes(config.memory) if config.memory else None,
        disk_mb=megabytes(config.disk_space) if config.disk_space else None,
        environment=dict(config.environment_variables),
        packages=tuple(config.packages),
    )
    try:
        sandbox = await platform.sandboxes.create(principal, wanted)
    except Invalid as error:
        raise _in_podplay_words(error) from None
    if body.auto_start:
        try:
            sandbox = await platform.sandboxes.begin_start(principal, sandbox.id)
        except MenagerieError:
            # refused to start (the tier's runtime is spent): no half-made workspace is left
            await platform.sandboxes.delete(principal, sandbox.id)
            raise
    return CreatedOut(
        workspace_id=sandbox.id,
        name=sandbox.name,
        type=sandbox.kind,
        status="creating" if body.auto_start else status_word(sandbox.status),
        estimated_setup_time=duration_text(platform.sandboxes.estimated_start_s()),
        access_url=access_url(request, sandbox.id),
    )


@router.get(
    "/{workspace_id}",
    response_model=WorkspaceDetailOut,
    response_model_exclude_none=True,
    responses=errors(404),
)
async def get_workspace(
    workspace_id: str, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> WorkspaceDetailOut:
    found = await workspaces.workspace(platform.sandboxes, principal, workspace_id)
    return WorkspaceDetailOut.model_validate(
        WorkspaceOut.of(found, access_url(request, found.id)).model_dump()
    )


@router.post(
    "/{workspace_id}/start", response_model=StartedOut, responses=errors(404, 409, 429, 503)
)
async def start_workspace(
    workspace_id: str, platform: PlatformDep, principal: PrincipalDep
) -> StartedOut:
    await workspaces.workspace(platform.sandboxes, principal, workspace_id)
    sandbox = await platform.sandboxes.begin_start(principal, workspace_id)
    return StartedOut(
        workspace_id=sandbox.id,
        status=status_word(sandbox.status),
        estimated_start_time=duration_text(platform.sandboxes.estimated_start_s()),
    )


@router.post("/{workspace_id}/stop", response_model=StoppedOut, responses=errors(404, 409))
async def stop_workspace(
    workspace_id: str, platform: PlatformDep, principal: PrincipalDep
) -> StoppedOut:
    await workspaces.workspace(platform.sandboxes, principal, workspace_id)
    sandbox = await platform.sandboxes.begin_stop(principal, workspace_id)
    return StoppedOut(workspace_id=sandbox.id, status=status_word(sandbox.status))


@router.delete("/{workspace_id}", response_model=DeletedOut, responses=errors(404))
async def delete_workspace(
    workspace_id: str, platform: PlatformDep, principal: PrincipalDep
) -> DeletedOut:
    await workspaces.workspace(platform.sandboxes, principal, workspace_id)
    deleted = await platform.sandboxes.delete(principal, workspace_id)
    return DeletedOut(workspace_id=deleted.id)


def _in_podplay_words(error: Invalid) -> Invalid:
    field = FIELDS.get(error.field or "")
    if field is None:
        return error
    return Invalid(
        error.message.replace(error.field or "", field, 1),
        field=field,
        received=error.received,
        expected=error.expected,
        reason=error.reason if error.specific else None,
        details={k: v for k, v in error.details.items() if k in ("limit", "tier")},
    )
