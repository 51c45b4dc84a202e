"""Seed 004 "Endpoint Management Endpoints": managed model servers, times in epoch seconds."""

from __future__ import annotations

from pydantic import BaseModel


class EndpointState(BaseModel):
    status: str  # running | sleeping | starting | stopping | failed
    url: str | None  # null while a local server has no address (not started)
    last_activity: int | None
    wake_time: int | None
    sleep_time: int | None
    auto_sleep_in: int | None  # seconds left before the idle sleep, while running


class AllEndpoints(BaseModel):
    success: bool = True
    endpoints: dict[str, EndpointState]


class Operation(BaseModel):
    success: bool = True
    message: str
