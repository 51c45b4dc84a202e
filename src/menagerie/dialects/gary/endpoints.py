"""Crazy Gary `/api/endpoints/*`: status, wake and sleep of managed model endpoints.

Times are epoch seconds, as the seed shows them; `model_type` is the endpoint's name.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from menagerie.core.llm.endpoints import EndpointStatus
from menagerie.http.deps import get_platform, require_principal
from menagerie.platform import Platform

router = APIRouter(
    prefix="/api/endpoints", tags=["endpoints"], dependencies=[Depends(require_principal)]
)
PlatformDep = Annotated[Platform, Depends(get_platform)]


class EndpointStatusBody(BaseModel):
    status: str
    url: str | None
    last_activity: int | None
    wake_time: int | None
    sleep_time: int | None
    auto_sleep_in: int | None


class AllStatusBody(BaseModel):
    success: bool = True
    endpoints: dict[str, EndpointStatusBody]


class OperationBody(BaseModel):
    success: bool = True
    message: str


def _epoch(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


def _status_body(status: EndpointStatus) -> EndpointStatusBody:
    return EndpointStatusBody(
        status=status.status,
        url=status.url,
        last_activity=_epoch(status.last_activity),
        wake_time=_epoch(status.wake_time),
        sleep_time=_epoch(status.sleep_time),
        # rounded up: 0.4 s left is not "0", which would read as "asleep already"
        auto_sleep_in=math.ceil(status.auto_sleep_in) if status.auto_sleep_in is not None else None,
    )


@router.get("/status")
async def all_statuses(platform: PlatformDep) -> AllStatusBody:
    return AllStatusBody(endpoints={s.name: _status_body(s) for s in platform.endpoints.statuses()})


@router.get("/status/{model_type}")
async def one_status(model_type: str, platform: PlatformDep) -> EndpointStatusBody:
    return _status_body(platform.endpoints.status(model_type))


@router.post("/wake")
async def wake_all(platform: PlatformDep) -> OperationBody:
    platform.endpoints.wake()
    return OperationBody(message="All endpoints wake operation initiated")


@router.post("/wake/{model_type}")
async def wake_one(model_type: str, platform: PlatformDep) -> OperationBody:
    platform.endpoints.wake(model_type)
    return OperationBody(message=f"{model_type.upper()} endpoint wake operation initiated")


@router.post("/sleep")
async def sleep_all(platform: PlatformDep) -> OperationBody:
    platform.endpoints.sleep()
    return OperationBody(message="All endpoints sleep operation initiated")


@router.post("/sleep/{model_type}")
async def sleep_one(model_type: str, platform: PlatformDep) -> OperationBody:
    platform.endpoints.sleep(model_type)
    return OperationBody(message=f"{model_type.upper()} endpoint sleep operation initiated")
