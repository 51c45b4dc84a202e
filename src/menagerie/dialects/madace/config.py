"""MADACE `GET/POST /api/config` (seed 001): the tenant's project configuration. The saved
LLM choice is the tenant's preferred model for MADACE's chat and workflows."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter

from menagerie.core.errors import MenagerieError
from menagerie.core.identity.models import Principal
from menagerie.dialects.madace.deps import PlatformDep, PrincipalDep
from menagerie.dialects.madace.llm import PROVIDERS
from menagerie.dialects.madace.schemas.config import ConfigIn, ConfigOut, ConfigSaved
from menagerie.http.openapi import errors
from menagerie.platform import Platform

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/config", tags=["configuration"])


@router.get("", response_model=ConfigOut, responses=errors(404))
async def get_config(platform: PlatformDep, principal: PrincipalDep) -> ConfigOut:
    return ConfigOut.model_validate(await platform.project_configs.get(principal))


@router.post("", response_model=ConfigSaved)
async def save_config(
    body: ConfigIn, platform: PlatformDep, principal: PrincipalDep
) -> ConfigSaved:
    saved = await platform.project_configs.save(principal, body.model_dump(exclude_none=True))
    return ConfigSaved(configPath=saved.config_path, envPath=saved.env_path)


async def preferred_model(platform: Platform, principal: Principal) -> str | None:
    """The model of the tenant's saved LLM choice, as the router names it; None without one."""
    try:
        config = await asyncio.to_thread(platform.project_configs.read, principal.tenant_id)
    except MenagerieError as error:
        log.info("MADACE configuration unreadable, no preferred model: %s", error.message)
        return None
    llm = (config or {}).get("llm")
    if not isinstance(llm, dict) or not isinstance(llm.get("model"), str):
        return None
    model = llm["model"]
    if platform.llm.router.catalog.get(model) is not None:
        return model
    provider = PROVIDERS.get(str(llm.get("provider")))
    return f"{provider}/{model}" if provider else model
