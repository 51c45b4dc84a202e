"""MADACE `GET /api/agents` and `GET /api/agents/{name}` (seed 001), from the agent catalogue."""

from __future__ import annotations

from fastapi import APIRouter

from menagerie.core.agents.models import AgentDefinition
from menagerie.core.errors import NotFound
from menagerie.dialects.madace.deps import PlatformDep, PrincipalDep
from menagerie.dialects.madace.schemas.agents import (
    AgentDetail,
    AgentList,
    AgentSummary,
    MenuItem,
    Persona,
)
from menagerie.http.openapi import errors

router = APIRouter(prefix="/api/agents", tags=["agents"])


def _summary(agent: AgentDefinition) -> AgentSummary:
    return AgentSummary(
        name=agent.name,
        version=agent.version,
        title=agent.title,
        module=agent.module,
        description=agent.description,
    )


@router.get("", response_model=AgentList)
async def list_agents(platform: PlatformDep, principal: PrincipalDep) -> AgentList:
    return AgentList(agents=[_summary(agent) for agent in platform.agents.catalog.list()])


@router.get("/{name}", response_model=AgentDetail, responses=errors(404))
async def get_agent(name: str, platform: PlatformDep, principal: PrincipalDep) -> AgentDetail:
    try:
        agent = platform.agents.catalog.get(name)
    except NotFound as error:
        # seed 001: `"details": "Available agents: pm, analyst, architect, sm, dev"`
        available = ", ".join(error.details.get("available", []))
        raise NotFound(
            error.message, reason=error.reason, details={"text": f"Available agents: {available}"}
        ) from None
    return AgentDetail(
        **_summary(agent).model_dump(),
        persona=Persona(**agent.persona.model_dump()),
        # None fields left out: a menu item shows the keys its persona file gave
        menu=[MenuItem(**item.model_dump(exclude_none=True)) for item in agent.menu],
        prompts=agent.prompts,
        auto_load=agent.auto_load,
    )
