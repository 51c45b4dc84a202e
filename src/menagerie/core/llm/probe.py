"""A connection test: one short real call to a provider, to see that a key and model work.

It bypasses the router on purpose: no retries, no fallback to another provider, no usage
quota. The caller wants to know about this provider, and a fallback would hide the answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from menagerie.core.llm.models import ChatMessage, ChatRequest, Usage
from menagerie.core.llm.providers.base import Provider, ProviderConfig
from menagerie.core.llm.providers.factory import build_provider

DEFAULT_PROMPT = "Say hello!"
PROBE_TIMEOUT_S = 20.0
# enough for a greeting; a connection test should cost next to nothing
PROBE_MAX_TOKENS = 256


@dataclass(frozen=True, slots=True)
class ProbeResult:
    provider: str
    model: str
    text: str
    usage: Usage
    latency_ms: float
    finish_reason: str


async def probe_provider(
    config: ProviderConfig,
    model: str,
    prompt: str = DEFAULT_PROMPT,
    *,
    timeout_s: float = PROBE_TIMEOUT_S,
    max_tokens: int = PROBE_MAX_TOKENS,
    provider: Provider | None = None,
) -> ProbeResult:
    """Send `prompt` to `model` once; raises the provider's `ProviderError` when it fails.

    `provider`: one the caller holds (and keeps: it is not closed here).
    """
    config = replace(config, timeout_s=min(config.timeout_s, timeout_s))
    owned = provider is None
    provider = provider or build_provider(config)
    request = ChatRequest(
        model=model, messages=(ChatMessage("user", prompt),), max_tokens=max_tokens
    )
    started = time.perf_counter()
    try:
        completion = await provider.complete(request)
    finally:
        if owned:
            await provider.aclose()
    return ProbeResult(
        provider=config.name,
        model=model,
        text=completion.text,
        usage=completion.usage,
        latency_ms=round((time.perf_counter() - started) * 1000, 1),
        finish_reason=completion.finish_reason,
    )
