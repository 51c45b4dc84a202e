"""Seed 001 "Configuration API". Keys beyond the seed's are kept (secret-looking ones only in
`.env`); a value whose key looks secret is never answered."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from menagerie.dialects.madace.schemas.llm import ProviderName

TEXT = {"min_length": 1, "max_length": 500}


class ModuleSwitch(BaseModel):
    model_config = ConfigDict(extra="allow")

    enabled: StrictBool


class Modules(BaseModel):
    model_config = ConfigDict(extra="allow")

    mam: ModuleSwitch
    mab: ModuleSwitch
    cis: ModuleSwitch


class LlmChoice(BaseModel):
    model_config = ConfigDict(extra="allow")

    provider: ProviderName
    model: str = Field(min_length=1, max_length=200, examples=["gemini-2.0-flash-exp"])


class LlmChoiceIn(LlmChoice):
    # not Optional: an explicit null is refused, leaving the key out keeps the stored one
    api_key: str = Field(
        None,  # type: ignore[assignment]
        max_length=1000,
        description="kept only in the .env beside config.yaml; never shown",
    )


class ConfigOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    project_name: str
    output_folder: str
    user_name: str
    communication_language: str
    modules: Modules
    llm: LlmChoice


class ConfigIn(ConfigOut):
    project_name: str = Field(**TEXT)
    output_folder: str = Field(**TEXT)
    user_name: str = Field(**TEXT)
    communication_language: str = Field(**TEXT)
    llm: LlmChoiceIn


class ConfigSaved(BaseModel):
    success: bool = True
    message: str = "Configuration saved successfully"
    configPath: str = Field(description="relative to the server's data directory")
    envPath: str
