"""Panthers deployments (seed 002 "Deployment Endpoints"): an NFT's agent deployed, watched
and stopped. Who may act, and what a deployment is, are core's (`core/deployments`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from menagerie.core.clock import iso
from menagerie.core.deployments.models import Deployment, DeploymentQuery, Probe
from menagerie.core.paging import MAX_OFFSET
from menagerie.dialects.panthers.deps import NftDep, PlatformDep, PrincipalDep
from menagerie.dialects.panthers.schemas import (
    DeploymentHealth,
    DeploymentList,
    DeploymentProvider,
    DeploymentResponse,
    DeploymentState,
    DeploymentSummary,
    DeployRequest,
    DeployResponse,
    Pagination,
    StopResponse,
)
from menagerie.http.openapi import errors

router = APIRouter(prefix="/deployments", tags=["deployments"])
# a deploy answers once the agent runs, or after this long with `deploying` and an estimate
DEPLOY_WAIT_S = 20.0
Sort = Literal["created_at", "updated_at", "status", "provider", "nft_token_id"]


# 403: not signed in for this NFT, or its wallet no longer holds it; 404: no such NFT;
# 409: deployed already; 429: this server's limit of local deployments; 503: a provider this
# server cannot deploy to, or the NFT ownership source is down
@router.post("", response_model=DeployResponse, responses=errors(403, 404, 409, 429, 503))
async def deploy(
    body: DeployRequest, platform: PlatformDep, principal: PrincipalDep
) -> DeployResponse:
    resources = body.resources.model_dump(exclude_none=True) if body.resources else {}
    deployed = await platform.deployments.deploy(
        principal, body.nft_token_id, body.provider, resources, wait_s=DEPLOY_WAIT_S
    )
    deployment = deployed.deployment
    return DeployResponse(
        deployment_id=deployment.id,
        status=deployment.status,
        endpoint_url=deployment.endpoint_url or "",
        estimated_time=deployed.estimated_time_s,
        nft_token_id=deployment.nft_token_id,
        provider=deployment.provider,
        message=deployment.message,
    )


@router.get("", response_model=DeploymentList)
async def list_deployments(
    platform: PlatformDep,
    principal: PrincipalDep,
    status: DeploymentState | None = None,
    provider: DeploymentProvider | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    sort: Sort = "created_at",
    order: Literal["asc", "desc"] = "desc",
) -> DeploymentList:
    page = await platform.deployments.list(
        principal,
        DeploymentQuery(
            status=status,
            provider=provider,
            limit=limit,
            offset=offset,
            sort=sort,
            descending=order == "desc",
        ),
    )
    return DeploymentList(
        deployments=[_summary(d) for d in page.deployments],
        total=page.total,
        pagination=Pagination(
            total=page.total, limit=page.limit, offset=page.offset, has_more=page.has_more
        ),
    )


@router.get(
    "/{nft_token_id}", response_model=DeploymentResponse, responses=errors(400, 403, 404, 503)
)
async def get_deployment(
    nft_token_id: NftDep, platform: PlatformDep, principal: PrincipalDep
) -> DeploymentResponse:
    deployment = await platform.deployments.get(principal, nft_token_id)
    probe = await platform.deployments.probe(deployment)
    return DeploymentResponse(**_summary(deployment).model_dump(), health=_health(probe))


@router.delete("/{nft_token_id}", response_model=StopResponse, responses=errors(400, 403, 404, 503))
async def stop_deployment(
    nft_token_id: NftDep, platform: PlatformDep, principal: PrincipalDep
) -> StopResponse:
    deployment = await platform.deployments.stop(principal, nft_token_id)
    return StopResponse(
        message=f"Deployment {deployment.id} stopped: its agent process has ended",
        status=deployment.status,
        deployment_id=deployment.id,
    )


def _summary(deployment: Deployment) -> DeploymentSummary:
    return DeploymentSummary(
        deployment_id=deployment.id,
        nft_token_id=deployment.nft_token_id,
        status=deployment.status,
        provider=deployment.provider,
        endpoint_url=deployment.endpoint_url,
        created_at=iso(deployment.created_at) or "",
        updated_at=iso(deployment.updated_at) or "",
        stopped_at=iso(deployment.stopped_at),
        resources=deployment.resources,
        restarts=deployment.restarts,
        message=deployment.message,
    )


def _health(probe: Probe) -> DeploymentHealth:
    return DeploymentHealth(
        status=probe.status,
        checked_at=iso(probe.checked_at) or "",
        response_ms=probe.response_ms,
        pid=probe.pid,
        restarts=probe.restarts,
        last_exit=probe.last_exit,
        detail=probe.detail,
    )
