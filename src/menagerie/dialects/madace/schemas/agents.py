"""`GET /api/agents` and `GET /api/agents/{name}` (seed 001 "Agents API")."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AgentSummary(BaseModel):
    name: str = Field(examples=["pm"])
    version: str = Field(examples=["1.0.0"])
    title: str = Field(examples=["MADACE Product Manager"])
    module: str = Field(examples=["mam"])
    description: str = Field(examples=["Planning and scale assessment agent"])


class AgentList(BaseModel):
    agents: list[AgentSummary]


class Persona(BaseModel):
    icon: str
    role: str
    identity: str
    communication_style: str
    core_principles: list[str]
    critical_actions: list[str]


class MenuItem(BaseModel):
    model_config = ConfigDict(extra="allow")  # a persona file's own menu keys pass through

    trigger: str = Field(examples=["*plan-project"])
    title: str
    description: str


class AgentDetail(AgentSummary):
    # `description` is not in the seed's detail example, but its list shows it
    persona: Persona
    menu: list[MenuItem]
    prompts: dict[str, str]
    auto_load: list[str]
