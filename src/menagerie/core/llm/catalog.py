"""The model catalogue: what each provider offers, its capabilities, context size and prices.

Built-in entries cover the common models of each provider; `data/models_catalog.json` (the
format of PodPlay's seed: `{id: {provider, displayName, description, capabilities, …}}`) adds
or overrides entries, and the models of configured custom providers and managed endpoints are
listed too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from menagerie.core.llm.providers.offline import MODEL as OFFLINE_MODEL

log = logging.getLogger(__name__)

Tier = Literal["basic", "standard", "high", "premium"]
CATALOG_FILE = "models_catalog.json"

# What clients ask for, in the words they use, mapped to what catalogue entries list.
CAPABILITY_SYNONYMS = {
    "vision": "images",
    "image": "images",
    "analysis": "reasoning",
    "chat": "text",
    "function_calling": "tools",
    "tool_use": "tools",
    "coding": "code",
}


def normalise_capability(name: str) -> str:
    name = name.strip().lower()
    return CAPABILITY_SYNONYMS.get(name, name)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    model_id: str  # the catalogue's name, unique across providers
    provider: str
    display_name: str
    description: str = ""
    capabilities: frozenset[str] = frozenset({"text"})
    context_window: int = 8192
    max_output_tokens: int = 4096
    cost_per_1k_input: float = 0.0  # US dollars
    cost_per_1k_output: float = 0.0
    performance_tier: Tier = "standard"
    typical_latency_s: float = 2.0
    upstream_model: str = ""  # the provider's own name, when it differs from model_id

    @property
    def provider_model(self) -> str:
        return self.upstream_model or self.model_id

    @property
    def cost_per_1k_tokens(self) -> float:
        """One price for display: the mean of input and output prices."""
        return round((self.cost_per_1k_input + self.cost_per_1k_output) / 2, 6)

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (
            input_tokens * self.cost_per_1k_input + output_tokens * self.cost_per_1k_output
        ) / 1000

    def has(self, capabilities: Iterable[str]) -> bool:
        return {normalise_capability(c) for c in capabilities} <= self.capabilities


def _model(
    model_id: str,
    provider: str,
    name: str,
    description: str,
    caps: str,
    context: int,
    price_in: float,
    price_out: float,
    tier: Tier,
    latency: float,
    max_output: int = 8192,
) -> ModelInfo:
    return ModelInfo(
        model_id,
        provider,
        name,
        description,
        frozenset(caps.split()),
        context,
        max_output,
        price_in,
        price_out,
        tier,
        latency,
    )


BUILTIN: tuple[ModelInfo, ...] = (
    _model(
        OFFLINE_MODEL, "offline", "Menagerie Offline",
        "Built-in deterministic model with no network; echoes and runs scripted tool calls",
        "text code tools streaming", 32768, 0.0, 0.0, "basic", 0.1,
    ),
    _model(
        "gpt-4o", "openai", "GPT-4o", "OpenAI's flagship multimodal model",
        "text images code audio tools streaming reasoning", 128000, 0.0025, 0.01, "premium", 2.1,
        16384,
    ),
    _model(
        "gpt-4o-mini", "openai", "GPT-4o mini", "Small, fast and cheap OpenAI model",
        "text images code tools streaming", 128000, 0.00015, 0.0006, "standard", 1.0, 16384,
    ),
    _model(
        "gpt-4.1", "openai", "GPT-4.1", "OpenAI model for long context and coding",
        "text images code tools streaming reasoning", 1047576, 0.002, 0.008, "premium", 2.4,
        32768,
    ),
    _model(
        "gpt-4.1-mini", "openai", "GPT-4.1 mini", "Balanced OpenAI model with long context",
        "text images code tools streaming", 1047576, 0.0004, 0.0016, "high", 1.2, 32768,
    ),
    _model(
        "claude-sonnet-4-6", "anthropic", "Claude Sonnet 4.6",
        "Anthropic's balanced model for agents and coding",
        "text images code tools streaming reasoning", 200000, 0.003, 0.015, "premium", 2.5,
        64000,
    ),
    _model(
        "claude-haiku-4-5", "anthropic", "Claude Haiku 4.5", "Anthropic's fast, low-cost model",
        "text images code tools streaming", 200000, 0.001, 0.005, "high", 1.1, 64000,
    ),
    _model(
        "claude-opus-4-7", "anthropic", "Claude Opus 4.7", "Anthropic's most capable model",
        "text images code tools streaming reasoning", 200000, 0.015, 0.075, "premium", 4.0,
        32000,
    ),
    _model(
        "gemini-2.0-flash", "gemini", "Gemini 2.0 Flash",
        "Gemini model with multimodal capabilities",
        "text images audio code tools streaming", 1048576, 0.0001, 0.0004, "high", 1.2,
    ),
    _model(
        "gemini-2.5-flash", "gemini", "Gemini 2.5 Flash", "Fast Gemini model with thinking",
        "text images audio code tools streaming reasoning", 1048576, 0.0003, 0.0025, "high",
        1.4, 65536,
    ),
    _model(
        "gemini-2.5-pro", "gemini", "Gemini 2.5 Pro", "Google's most capable Gemini model",
        "text images audio code tools streaming reasoning", 1048576, 0.00125, 0.01, "premium",
        3.0, 65536,
    ),
    _model(
        "meta-llama/Llama-3.3-70B-Instruct-Turbo", "together", "Llama 3.3 70B Turbo",
        "Meta's open 70B instruct model on Together", "text code tools streaming", 131072,
        0.00088, 0.00088, "high", 1.5,
    ),
    _model(
        "openai/gpt-oss-120b", "huggingface", "gpt-oss 120B",
        "OpenAI's open-weight model through Hugging Face inference providers",
        "text code tools streaming reasoning", 131072, 0.00015, 0.0006, "high", 1.8,
    ),
    _model(
        "llama3.2", "ollama", "Llama 3.2 (Ollama)", "A local model served by Ollama",
        "text code tools streaming", 131072, 0.0, 0.0, "standard", 3.0,
    ),
)  # fmt: skip


class CatalogEntry(BaseModel):
    """One entry of `models_catalog.json`; camelCase as in the seed, snake_case accepted."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    provider: str = Field(min_length=1)
    display_name: str | None = None
    description: str = ""
    capabilities: list[str] = Field(default_factory=lambda: ["text"])
    context_window: int | None = Field(None, gt=0)
    max_tokens: int | None = Field(None, gt=0)
    cost_per_1k_tokens: float | None = Field(
        None, ge=0, validation_alias=AliasChoices("costPer1kTokens", "cost_per_1k_tokens")
    )
    cost_per_1k_input: float | None = Field(
        None, ge=0, validation_alias=AliasChoices("costPer1kInput", "cost_per_1k_input")
    )
    cost_per_1k_output: float | None = Field(
        None, ge=0, validation_alias=AliasChoices("costPer1kOutput", "cost_per_1k_output")
    )
    performance_tier: Tier = "standard"
    response_time_avg: float | None = Field(None, gt=0, description="seconds")
    model: str | None = Field(None, description="the provider's own model name")

    def to_info(self, model_id: str) -> ModelInfo:
        flat = self.cost_per_1k_tokens or 0.0
        return ModelInfo(
            model_id=model_id,
            provider=self.provider,
            display_name=self.display_name or model_id,
            description=self.description,
            capabilities=frozenset(normalise_capability(c) for c in self.capabilities),
            context_window=self.context_window or 8192,
            max_output_tokens=self.max_tokens or 4096,
            cost_per_1k_input=self.cost_per_1k_input
            if self.cost_per_1k_input is not None
            else flat,
            cost_per_1k_output=(
                self.cost_per_1k_output if self.cost_per_1k_output is not None else flat
            ),
            performance_tier=self.performance_tier,
            typical_latency_s=self.response_time_avg or 2.0,
            upstream_model=self.model or "",
        )


def load_catalog_file(path: Path) -> tuple[list[ModelInfo], list[str]]:
    """Entries from the file, and one message per entry that was skipped (with why)."""
    if not path.exists():
        return [], []
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [], [f"{path}: not readable JSON ({exc})"]
    if not isinstance(raw, dict):
        return [], [f"{path}: must be an object of model id to entry"]
    models, problems = [], []
    for model_id, body in raw.items():
        try:
            models.append(CatalogEntry.model_validate(body).to_info(str(model_id)))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "entry"
            problems.append(f"{path}: model {model_id!r}, field {where}: {first['msg']}")
    return models, problems


class Catalog:
    """Models by id, in a stable order: built-ins first, then file and configured entries."""

    def __init__(self, models: Iterable[ModelInfo]) -> None:
        self._models: dict[str, ModelInfo] = {}
        for model in models:
            self._models[model.model_id] = model

    @classmethod
    def build(
        cls,
        data_dir: Path,
        extra_provider_models: dict[str, list[str]] | None = None,
    ) -> Catalog:
        models = list(BUILTIN)
        for provider, names in (extra_provider_models or {}).items():
            for name in names:
                models.append(
                    ModelInfo(
                        name,
                        provider,
                        name,
                        f"{name} served by {provider}",
                        frozenset({"text", "code", "tools", "streaming"}),
                        upstream_model=name,
                    )
                )
        loaded, problems = load_catalog_file(data_dir / CATALOG_FILE)
        for problem in problems:
            log.warning("model catalogue entry skipped: %s", problem)
        return cls([*models, *loaded])

    def __iter__(self) -> Iterator[ModelInfo]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)

    def add(self, model: ModelInfo) -> None:
        """List a model found after start (the embedded one, once its metadata is read)."""
        self._models[model.model_id] = model

    def get(self, model_id: str) -> ModelInfo | None:
        return self._models.get(model_id)

    def for_provider(self, provider: str) -> list[ModelInfo]:
        return [model for model in self._models.values() if model.provider == provider]
