"""Testing a connection: which provider a named test reaches, with the caller's own key.

APIs that let a client check a key and a model (MADACE's `POST /api/llm/test`) name one of
the public providers or `local`. `local` is the local model: the Ollama server the settings
configure, and without one the built-in offline model, which answers with no network and
says in its text that it is offline (issue 15 puts the embedded SmolLM2 model in its place).
The result names the provider and model that really answered, never the one asked for.
"""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr

from menagerie.core.errors import Invalid
from menagerie.core.llm.probe import DEFAULT_PROMPT, ProbeResult, probe_provider
from menagerie.core.llm.providers.base import ProviderConfig
from menagerie.core.llm.providers.factory import OFFLINE, openai_base
from menagerie.core.llm.providers.offline import MODEL as OFFLINE_MODEL
from menagerie.settings import Settings

TestedProvider = Literal["openai", "anthropic", "gemini", "local"]
OLLAMA = "ollama"


def connection_target(
    provider: TestedProvider, api_key: str | None, model: str, settings: Settings
) -> tuple[ProviderConfig, str]:
    """The provider to call and the model it will be asked for."""
    key = api_key.strip() if api_key else ""
    secret = SecretStr(key) if key else None
    timeout = settings.llm_timeout_s
    if provider == "local":
        if settings.ollama_base_url:
            base_url = openai_base(settings.ollama_base_url)
            return ProviderConfig(OLLAMA, "openai", secret, base_url, timeout), model
        # no local server configured: the built-in model answers, under its own name
        return ProviderConfig(OFFLINE, "offline"), OFFLINE_MODEL
    if not key:
        raise Invalid(
            f"api_key is required for provider '{provider}'",
            field="api_key",
            received=None,
            expected="the provider's API key",
            missing=True,
        )
    base_urls = {
        "openai": settings.openai_base_url,
        "anthropic": settings.anthropic_base_url,
        "gemini": settings.gemini_base_url,
    }
    return ProviderConfig(provider, provider, secret, base_urls[provider], timeout), model


async def check_connection(
    provider: TestedProvider,
    model: str,
    settings: Settings,
    *,
    api_key: str | None = None,
    prompt: str | None = None,
) -> ProbeResult:
    """One short real call; raises the provider's `ProviderError` when it fails."""
    config, asked = connection_target(provider, api_key, model, settings)
    return await probe_provider(config, asked, prompt or DEFAULT_PROMPT)
