"""Crazy Gary `/api/endpoints/*`: status, wake and sleep of managed model endpoints.

Times are epoch seconds, as the seed shows them; `model_type` is the endpoint's name. Reading
the status needs a signed-in user; waking and sleeping are operator actions (`AdminDep`).
Which tenant sees which endpoint is core's to say (the operator's tenant sees them all).
"""

from __future__ import annotations

import math
from datetime import datetime

from fastapi import APIRouter

from menagerie.core.llm.endpoints import EndpointStatus
from menagerie.dialects.gary.deps import AdminDep, PlatformDep, PrincipalDep
from menagerie.dialects.gary.schemas.endpoints import AllEndpoints, EndpointState, Operation
from menagerie.http.openapi import errors

router = APIRouter(prefix="/api/endpoints", tags=["endpoints"])


def _epoch(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


def _state(status: EndpointStatus) -> EndpointState:
    return EndpointState(
        status=status.status,
        url=status.url,
        last_activity=_epoch(status.last_activity),
        wake_time=_epoch(status.wake_time),
        sleep_time=_epoch(status.sleep_time),
        # rounded up: 0.4 s left is not "0", which would read as "asleep already"
        auto_sleep_in=math.ceil(status.auto_sleep_in) if status.auto_sleep_in is not None else None,
    )


@router.get("/status", response_model=AllEndpoints)
async def all_statuses(platform: PlatformDep, principal: PrincipalDep) -> AllEndpoints:
    statuses = platform.endpoints.statuses_for(principal)
    return AllEndpoints(endpoints={s.name: _state(s) for s in statuses})


@router.get("/status/{model_type}", response_model=EndpointState, responses=errors(404))
async def one_status(
    model_type: str, platform: PlatformDep, principal: PrincipalDep
) -> EndpointState:
    return _state(platform.endpoints.status_for(principal, model_type))


@router.post("/wake", response_model=Operation)
async def wake_all(platform: PlatformDep, admin: AdminDep) -> Operation:
    platform.endpoints.wake_for(admin)
    return Operation(message="All endpoints wake operation initiated")


@router.post("/wake/{model_type}", response_model=Operation, responses=errors(404))
async def wake_one(model_type: str, platform: PlatformDep, admin: AdminDep) -> Operation:
    platform.endpoints.wake_for(admin, model_type)
    return Operation(message=f"{model_type.upper()} endpoint wake operation initiated")


@router.post("/sleep", response_model=Operation)
async def sleep_all(platform: PlatformDep, admin: AdminDep) -> Operation:
    platform.endpoints.sleep_for(admin)
    return Operation(message="All endpoints sleep operation initiated")


@router.post("/sleep/{model_type}", response_model=Operation, responses=errors(404))
async def sleep_one(model_type: str, platform: PlatformDep, admin: AdminDep) -> Operation:
    platform.endpoints.sleep_for(admin, model_type)
    return Operation(message=f"{model_type.upper()} endpoint sleep operation initiated")
