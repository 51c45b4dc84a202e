"""`GET /v1/models` and `GET /v1/models/{model}`: every callable catalogue model."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from menagerie.core.errors import NotFound
from menagerie.core.identity.models import Principal
from menagerie.core.llm.catalog import ModelInfo
from menagerie.dialects.openai.agents import agent_models
from menagerie.http.deps import get_platform, require_principal
from menagerie.platform import Platform

router = APIRouter(tags=["models"])
PlatformDep = Annotated[Platform, Depends(get_platform)]
PrincipalDep = Annotated[Principal, Depends(require_principal)]
CREATED = 1_735_689_600  # catalogue entries carry no date; a fixed one keeps answers stable


def _model(model: ModelInfo) -> dict[str, Any]:
    return {"id": model.model_id, "object": "model", "created": CREATED, "owned_by": model.provider}


def _agent(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": CREATED, "owned_by": "menagerie"}


@router.get("/models")
async def list_models(platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    models = [_model(m) for m in platform.llm.router.callable_models()]
    models += [_agent(name) for name in agent_models(platform)]
    return {"object": "list", "data": models}


@router.get("/models/{model_id:path}")
async def get_model(
    model_id: str, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, Any]:
    for model in platform.llm.router.callable_models():
        if model.model_id == model_id:
            return _model(model)
    if model_id in agent_models(platform):
        return _agent(model_id)
    raise NotFound(f"The model '{model_id}' does not exist", reason="MODEL_NOT_FOUND")
