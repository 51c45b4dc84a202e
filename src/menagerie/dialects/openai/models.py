"""`GET /v1/models` and `GET /v1/models/{model}`: every callable catalogue model and agent."""

from __future__ import annotations

from fastapi import APIRouter

from menagerie.core.errors import NotFound
from menagerie.core.llm.catalog import ModelInfo
from menagerie.dialects.openai.agents import agent_models
from menagerie.dialects.openai.deps import PlatformDep, PrincipalDep
from menagerie.dialects.openai.schemas import ModelList, ModelObject
from menagerie.http.openapi import errors

router = APIRouter(tags=["models"])
CREATED = 1_735_689_600  # catalogue entries carry no date; a fixed one keeps answers stable


def _model(model: ModelInfo) -> ModelObject:
    return ModelObject(id=model.model_id, created=CREATED, owned_by=model.provider)


def _agent(model_id: str) -> ModelObject:
    return ModelObject(id=model_id, created=CREATED, owned_by="menagerie")


@router.get("/models", response_model=ModelList)
async def list_models(platform: PlatformDep, principal: PrincipalDep) -> ModelList:
    models = [_model(m) for m in platform.llm.router.callable_models()]
    models += [_agent(name) for name in agent_models(platform)]
    return ModelList(data=models)


@router.get("/models/{model_id:path}", response_model=ModelObject, responses=errors(404))
async def get_model(model_id: str, platform: PlatformDep, principal: PrincipalDep) -> ModelObject:
    for model in platform.llm.router.callable_models():
        if model.model_id == model_id:
            return _model(model)
    if model_id in agent_models(platform):
        return _agent(model_id)
    raise NotFound(f"The model '{model_id}' does not exist", reason="MODEL_NOT_FOUND")
