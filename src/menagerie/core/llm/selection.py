"""Choosing a model by capability and preference: a score over the callable models.

Pure: it reads the models it is given and whether each is available, and calls nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from menagerie.core.errors import Invalid, Unavailable
from menagerie.core.llm.catalog import ModelInfo, normalise_capability
from menagerie.core.llm.providers.factory import OFFLINE

EXPECTED_OUTPUT_TOKENS = 256  # for estimates before a call
TIER_QUALITY = {"basic": 0.0, "standard": 1 / 3, "high": 2 / 3, "premium": 1.0}
COST_WEIGHT = {"low": 0.6, "economy": 0.6, "cheap": 0.6, "balanced": 0.3, "premium": 0.0}
SPEED_WEIGHT = {"fast": 0.5, "balanced": 0.25, "thorough": 0.0, "quality": 0.0}


@dataclass(frozen=True, slots=True)
class Alternative:
    model: ModelInfo
    estimated_cost: float
    estimated_time_s: float


@dataclass(frozen=True, slots=True)
class Selection:
    model: ModelInfo
    reason: str
    score: float
    alternatives: list[Alternative]
    missing_capabilities: frozenset[str] = frozenset()


def estimate(model: ModelInfo, input_tokens: int) -> Alternative:
    output = min(EXPECTED_OUTPUT_TOKENS, model.max_output_tokens)
    seconds = model.typical_latency_s + output / 100  # ~100 tokens/s of generation
    return Alternative(model, round(model.cost(input_tokens, output), 6), round(seconds, 2))


def select(
    models: Iterable[ModelInfo],
    available: Callable[[ModelInfo], bool],
    capabilities: Iterable[str] = (),
    *,
    cost_preference: str = "balanced",
    speed_preference: str = "balanced",
    input_tokens: int = 0,
) -> Selection:
    """The best of `models` for these capabilities and preferences, with runners-up."""
    cost_weight = _weight(COST_WEIGHT, cost_preference, "cost_preference")
    speed_weight = _weight(SPEED_WEIGHT, speed_preference, "speed_preference")
    required = frozenset(normalise_capability(c) for c in capabilities if c.strip())
    pool = [m for m in models if available(m)]
    if not pool:
        raise Unavailable("no model provider is reachable", service="llm")
    real = [m for m in pool if m.provider != OFFLINE]
    pool = real or pool
    full = [m for m in pool if required <= m.capabilities]
    ranked_pool = full or pool
    top_price = max((price(m) for m in ranked_pool), default=0.0) or 1.0
    top_latency = max((m.typical_latency_s for m in ranked_pool), default=0.0) or 1.0

    def score(model: ModelInfo) -> float:
        quality = TIER_QUALITY.get(model.performance_tier, 0.5)
        coverage = len(required & model.capabilities) / len(required) if required else 1.0
        return (
            coverage
            + 0.4 * quality
            - cost_weight * price(model) / top_price
            - speed_weight * model.typical_latency_s / top_latency
        )

    ranked = sorted(ranked_pool, key=lambda m: (-score(m), price(m), m.model_id))
    best = ranked[0]
    missing = required - best.capabilities
    wanted = ", ".join(sorted(required)) or "general chat"
    if missing:
        reason = (
            f"No available model offers {', '.join(sorted(missing))}; "
            f"{best.display_name} covers the most of {wanted}"
        )
    else:
        reason = (
            f"Optimal for {wanted} with {cost_preference} cost and {speed_preference} speed "
            f"among {len(ranked_pool)} capable model{'s' if len(ranked_pool) != 1 else ''}"
        )
    if best.provider == OFFLINE:
        reason += " (offline model: no provider is configured)"
    alternatives = [estimate(m, input_tokens) for m in ranked[1:4]]
    return Selection(best, reason, round(score(best), 4), alternatives, missing)


def price(model: ModelInfo) -> float:
    return model.cost_per_1k_input + model.cost_per_1k_output


def _weight(table: dict[str, float], value: str, field_name: str) -> float:
    try:
        return table[value.strip().lower()]
    except KeyError:
        raise Invalid(
            f"{field_name} must be one of {', '.join(table)}",
            field=field_name,
            received=value,
            expected=" | ".join(table),
        ) from None
