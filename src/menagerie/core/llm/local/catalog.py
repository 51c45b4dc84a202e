"""The embedded model's catalogue entry, from what its GGUF metadata says."""

from __future__ import annotations

from menagerie.core.llm.catalog import ModelInfo
from menagerie.core.llm.local.backend import NAME
from menagerie.core.llm.local.model import ModelFile

MAX_OUTPUT_TOKENS = 2048


def catalog_entry(model: ModelFile, context: int | None) -> ModelInfo:
    window = model.context(context)
    capabilities = {"text", "streaming", *(["tools"] if model.supports_tools else [])}
    return ModelInfo(
        model_id=model.model_id,
        provider=NAME,
        display_name=f"{model.name} (local)",
        description=(
            f"{model.name}, embedded: served by llama.cpp on this machine, "
            "with no network and no key"
        ),
        capabilities=frozenset(capabilities),
        context_window=window,
        max_output_tokens=min(MAX_OUTPUT_TOKENS, window),
        cost_per_1k_input=0.0,
        cost_per_1k_output=0.0,
        performance_tier="basic",
        typical_latency_s=0.5,
        upstream_model=model.model_id,
    )
