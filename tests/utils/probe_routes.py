"""Routes added to every dialect in tests, to drive its error handling end to end.

The foundation has no documented endpoint that takes a body yet; these exercise the same
machinery (validation, body limit, core errors, unexpected exceptions) that every later
endpoint goes through.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from menagerie.core import errors as E
from menagerie.core.clock import utcnow
from menagerie.core.identity.models import Principal
from menagerie.dialects.registry import DIALECTS
from menagerie.http.deps import require_principal
from menagerie.http.dialect import DialectSpec

PREFIX = "/__probe"
router = APIRouter(prefix=PREFIX)


class Echo(BaseModel):
    message: str = Field(min_length=1)
    count: int


@router.post("/echo")
async def echo(body: Echo) -> dict[str, object]:
    return {"message": body.message, "count": body.count}


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("secret internal detail: db password hunter2")


@router.get("/whoami")
async def whoami(principal: Annotated[Principal, Depends(require_principal)]) -> dict[str, object]:
    return {"tenant_id": principal.tenant_id, "user_id": principal.user_id, "via": principal.via}


CORE_ERRORS: dict[str, E.MenagerieError] = {
    "not_found": E.NotFound("thing not found"),
    "conflict": E.Conflict("already exists"),
    "forbidden": E.Forbidden("not yours"),
    "unauthorized": E.Unauthorized("bad token"),
    "expired": E.TokenExpired("token has expired"),
    "quota": E.QuotaExceeded("quota exceeded"),
    "unavailable": E.Unavailable("database unavailable", service="database"),
    "agent": E.NotFound("Agent 'x' does not exist", reason="AGENT_NOT_FOUND"),
    "too_long": E.TooLarge("Message exceeds 10,000 characters", reason="MESSAGE_TOO_LONG"),
}


@router.get("/raise/{name}")
async def raise_core(name: str) -> None:
    if name == "rate":
        raise E.RateLimited(
            "Rate limit exceeded",
            limit=100,
            window_seconds=3600,
            reset_at=utcnow() + timedelta(seconds=300),
        )
    raise CORE_ERRORS[name]


def probed_dialects() -> dict[str, DialectSpec]:
    return {
        name: dataclasses.replace(spec, routers=(*spec.routers, router))
        for name, spec in DIALECTS.items()
    }
