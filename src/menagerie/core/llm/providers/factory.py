"""Which providers this server can call, and the adapter for each."""

from __future__ import annotations

from collections.abc import Callable

from menagerie.core.llm.providers.base import Provider, ProviderConfig
from menagerie.settings import Settings

OFFLINE = "offline"


def provider_configs(settings: Settings) -> dict[str, ProviderConfig]:
    """Every provider the settings make callable, by name; `offline` is always there."""
    timeout = settings.llm_timeout_s
    configs: dict[str, ProviderConfig] = {OFFLINE: ProviderConfig(OFFLINE, "offline")}
    builtin = {
        "openai": ("openai", settings.openai_base_url),
        "anthropic": ("anthropic", settings.anthropic_base_url),
        "gemini": ("gemini", settings.gemini_base_url),
        "together": ("openai", settings.together_base_url),
        "huggingface": ("openai", settings.huggingface_base_url),
    }
    for name, (kind, base_url) in builtin.items():
        key = settings.provider_key(name)
        if key is not None:
            configs[name] = ProviderConfig(name, kind, key, base_url, timeout)
    if settings.ollama_base_url:
        configs["ollama"] = ProviderConfig(
            "ollama", "openai", None, openai_base(settings.ollama_base_url), timeout
        )
    for extra in settings.llm_providers:
        configs[extra.name] = ProviderConfig(
            extra.name, extra.kind, extra.api_key, extra.base_url, timeout
        )
    for endpoint in settings.llm_endpoints:
        base_url = endpoint.base_url or (
            f"http://127.0.0.1:{endpoint.port}/v1" if endpoint.port else None
        )
        if base_url:
            configs[endpoint.name] = ProviderConfig(
                endpoint.name, "openai", None, base_url, timeout
            )
    return configs


def openai_base(url: str) -> str:
    """Ollama and friends serve the OpenAI API under `/v1` of their root URL."""
    url = url.rstrip("/")
    return url if url.endswith("/v1") else f"{url}/v1"


def build_provider(
    config: ProviderConfig,
    *,
    offline_token_delay_s: float = 0.0,
    offline_notice: Callable[[], str | None] | None = None,
) -> Provider:
    # adapters import their SDK lazily: a server that never calls Gemini never loads it
    if config.kind == "offline":
        from menagerie.core.llm.providers.offline import OfflineProvider

        return OfflineProvider(config, token_delay_s=offline_token_delay_s, notice=offline_notice)
    if config.kind == "openai":
        from menagerie.core.llm.providers.openai_compat import OpenAICompatProvider

        return OpenAICompatProvider(config)
    if config.kind == "anthropic":
        from menagerie.core.llm.providers.anthropic import AnthropicProvider

        return AnthropicProvider(config)
    if config.kind == "gemini":
        from menagerie.core.llm.providers.gemini import GeminiProvider

        return GeminiProvider(config)
    raise ValueError(f"unknown provider kind {config.kind!r}")
