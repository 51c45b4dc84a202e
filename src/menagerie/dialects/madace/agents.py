"""MADACE `GET /api/agents` and `GET /api/agents/{name}` (seed 001), from the agent catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from menagerie.core.agents.models import AgentDefinition
from menagerie.core.errors import NotFound
from menagerie.core.identity.models import Principal
from menagerie.http.deps import get_platform, require_principal
from menagerie.platform import Platform

router = APIRouter(prefix="/api/agents", tags=["agents"])
PlatformDep = Annotated[Platform, Depends(get_platform)]
PrincipalDep = Annotated[Principal, Depends(require_principal)]


class AgentSummary(BaseModel):
    name: str = Field(examples=["pm"])
    version: str = Field(examples=["1.0.0"])
    title: str = Field(examples=["MADACE Product Manager"])
    module: str = Field(examples=["mam"])
    description: str = Field(examples=["Planning and scale assessment agent"])


class AgentList(BaseModel):
    agents: list[AgentSummary]


class PersonaOut(BaseModel):
    icon: str
    role: str
    identity: str
    communication_style: str
    core_principles: list[str]
    critical_actions: list[str]


class MenuItemOut(BaseModel):
    model_config = ConfigDict(extra="allow")  # a persona file's own menu keys pass through

    trigger: str = Field(examples=["*plan-project"])
    title: str
    description: str


class AgentDetail(BaseModel):
    name: str
    version: str
    title: str
    module: str
    # not in the seed's example, but its list shows it and clients render it
    description: str
    persona: PersonaOut
    menu: list[MenuItemOut]
    prompts: dict[str, str]
    auto_load: list[str]


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


@router.get("/{name}", response_model=AgentDetail)
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
        persona=PersonaOut(**agent.persona.model_dump()),
        # None fields left out: a menu item shows the keys its persona file gave
        menu=[MenuItemOut(**item.model_dump(exclude_none=True)) for item in agent.menu],
        prompts=agent.prompts,
        auto_load=agent.auto_load,
    )
