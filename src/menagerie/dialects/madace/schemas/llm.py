"""`POST /api/llm/test` (seed 001 "LLM API")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ProviderName = Literal["gemini", "claude", "openai", "local"]


class LlmTestRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    provider: ProviderName = Field(
        description="gemini, claude, openai, or local (Ollama when configured, else the "
        "server's built-in model)"
    )
    api_key: str | None = Field(
        None, alias="apiKey", description="the provider's API key; not needed for local"
    )
    model: str = Field(min_length=1, max_length=200, examples=["gemini-2.0-flash-exp"])
    test_prompt: str | None = Field(
        None, alias="testPrompt", max_length=4000, examples=["Say hello!"]
    )


class TokenUsage(BaseModel):
    promptTokens: int
    completionTokens: int
    totalTokens: int


class LlmTestResult(BaseModel):
    success: bool = True
    provider: ProviderName = Field(description="the provider named in the request")
    model: str = Field(description="the model that answered (local: which local model)")
    message: str
    usage: TokenUsage
