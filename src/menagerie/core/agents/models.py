"""Agent definitions in MADACE's persona shape, plus what the loop needs to run one."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class Persona(BaseModel):
    model_config = ConfigDict(extra="ignore")

    icon: str = "🤖"
    role: str = Field(min_length=1, max_length=200)
    identity: str = Field(min_length=1, max_length=4000)
    communication_style: str = Field("", max_length=1000)
    core_principles: list[str] = Field(default_factory=list, max_length=32)
    critical_actions: list[str] = Field(default_factory=list, max_length=32)


class MenuItem(BaseModel):
    """One command of the agent's menu (`*plan-project`); MADACE files add their own keys."""

    model_config = ConfigDict(extra="allow")

    trigger: str = Field(min_length=1, max_length=100)
    title: str = ""
    description: str = ""
    prompt: str | None = None  # the `prompts` entry this command runs, when it has one


class MemoryPolicy(BaseModel):
    model_config = ConfigDict(extra="ignore")

    enabled: bool = True
    extract: bool = True  # mine each user message for facts and preferences
    recall_limit: int = Field(5, ge=0, le=50)  # memories put into the system prompt
    categories: list[str] | None = None  # recall only these; None: all


class AgentDefinition(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    version: str = "1.0.0"
    title: str = Field(min_length=1, max_length=200)
    module: str = "core"
    description: str = Field("", max_length=2000)
    persona: Persona
    menu: list[MenuItem] = Field(default_factory=list)
    # seed 001 shows prompts as a mapping {"default": …, "planning": …}
    prompts: dict[str, str] = Field(default_factory=dict)
    # documents put into the system prompt, relative to the definition file's directory
    auto_load: list[str] = Field(default_factory=list)
    model: str | None = None  # preferred catalogue model; None: the router's primary
    capabilities: list[str] = Field(default_factory=lambda: ["chat"])  # for the router
    tools: list[str] = Field(default_factory=lambda: ["current_time", "remember", "recall"])
    memory: MemoryPolicy = Field(default_factory=MemoryPolicy)
    max_tool_steps: int = Field(4, ge=0, le=16)
    temperature: float | None = Field(None, ge=0, le=2)
    suggestions: list[str] = Field(default_factory=list)  # follow-ups a UI may offer
    source: Literal["builtin", "file", "database"] = "builtin"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError("names are lower-case letters, digits and _.- (1-64 characters)")
        return value

    @field_validator("prompts", mode="before")
    @classmethod
    def _prompts(cls, value: Any) -> Any:
        # MADACE files also write prompts as a list of {name, prompt}
        if isinstance(value, list):
            return {
                str(item.get("name") or item.get("trigger") or index): str(
                    item.get("prompt") or item.get("content") or ""
                )
                for index, item in enumerate(value)
                if isinstance(item, dict)
            }
        return value

    @field_validator("auto_load")
    @classmethod
    def _auto_load(cls, value: list[str]) -> list[str]:
        # an absolute path would let a persona file read anything the server can read
        for path in value:
            if not path.strip() or PurePosixPath(path).is_absolute() or "\\" in path:
                raise ValueError(f"{path!r}: auto_load paths are relative to the agent file")
        return value

    @model_validator(mode="after")
    def _menu_prompts(self) -> AgentDefinition:
        # a command that points at a prompt the file does not define would silently do nothing
        for index, item in enumerate(self.menu):
            if item.prompt is not None and item.prompt not in self.prompts:
                known = ", ".join(sorted(self.prompts)) or "none"
                raise ValueError(
                    f"menu[{index}].prompt: {item.prompt!r} is not one of the prompts ({known})"
                )
        return self

    def system_prompt(self, documents: dict[str, str] | None = None) -> str:
        """The persona, its prompts, its menu and its auto-loaded documents, as one prompt."""
        persona = self.persona
        lines = [f"You are {self.title} ({self.name}). {persona.identity}", f"Role: {persona.role}"]
        if persona.communication_style:
            lines.append(f"Communication style: {persona.communication_style}")
        if persona.core_principles:
            lines.append("Core principles:")
            lines += [f"- {p}" for p in persona.core_principles]
        if persona.critical_actions:
            lines.append("Always:")
            lines += [f"- {a}" for a in persona.critical_actions]
        if self.prompts.get("default"):
            lines.append(self.prompts["default"])
        if self.menu:
            # the model must know its commands to answer `*plan-project` as the menu promises
            lines.append("Commands the user may type:")
            for item in self.menu:
                text = f"- {item.trigger}: {item.title or item.trigger}"
                if item.description:
                    text += f" - {item.description}"
                lines.append(text)
                if item.prompt:
                    lines.append(f"  When chosen: {self.prompts[item.prompt]}")
        if documents:
            lines.append("Reference documents:")
            for path, text in documents.items():
                lines.append(f"--- {path} ---\n{text.rstrip()}\n--- end of {path} ---")
        return "\n".join(lines)
