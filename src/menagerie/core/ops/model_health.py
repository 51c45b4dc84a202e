"""How the model side is doing right now: the providers, the router, and the model calls.

Nothing here is read once and kept: a provider's state is its circuit breaker now and the
outcome of its latest call (fed by the usage ledger as each call is recorded), and the
call statistics cover a rolling window. Where nothing has been observed yet the values say
so (`None`, or the provider state `configured`) rather than guess.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from menagerie.core.clock import utcnow

# how long a provider's latest call says something about it; older, it is only "configured"
RECENT_CALL_S = 300.0
CALL_WINDOW = 200  # the model calls the averages cover

ProviderState = Literal["healthy", "degraded", "unhealthy", "configured", "not_configured"]
RouterState = Literal["operational", "degraded", "failing"]
Status = Literal["healthy", "degraded", "unhealthy"]


class _Breaker(Protocol):
    @property
    def state(self) -> str: ...


class _Model(Protocol):
    model_id: str


class RouterView(Protocol):
    """What the model router exposes that health reads (kept structural: no import cycle)."""

    providers: Mapping[str, Any]
    breakers: Mapping[str, _Breaker]

    def primary(self) -> _Model: ...

    def callable_models(self) -> list[Any]: ...


class _Record(Protocol):
    provider: str
    latency_ms: float
    outcome: str
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class CallPerformance:
    """The model calls of the rolling window (every agent's and the router's)."""

    calls: int
    avg_latency_ms: float | None  # None: no call yet
    calls_per_minute: int
    error_rate: float
    last_call_at: datetime | None


@dataclass(frozen=True, slots=True)
class RouterHealth:
    status: Status
    state: RouterState
    primary_model: str | None
    models_available: int
    providers_failing: list[str]


class ModelCallStats:
    """Counts the usage ledger's records as they are queued (a few list operations)."""

    def __init__(self) -> None:
        self._calls: deque[tuple[float, float, bool]] = deque(maxlen=CALL_WINDOW)
        self._minute: deque[float] = deque(maxlen=10_000)
        self._last: dict[str, tuple[float, bool]] = {}
        self._by_provider: dict[str, deque[tuple[float, float, bool]]] = {}
        self._last_at: dict[str, datetime] = {}
        self.last_call_at: datetime | None = None

    def record(self, entry: _Record) -> None:
        now = time.monotonic()
        ok = entry.outcome == "ok"
        self._calls.append((now, entry.latency_ms, ok))
        self._minute.append(now)
        self._last[entry.provider] = (now, ok)
        window = self._by_provider.get(entry.provider)
        if window is None:
            window = self._by_provider[entry.provider] = deque(maxlen=CALL_WINDOW)
        window.append((now, entry.latency_ms, ok))
        self.last_call_at = self._last_at[entry.provider] = entry.created_at or utcnow()

    def performance(self, provider: str | None = None) -> CallPerformance:
        """The window's calls: every provider's, or one provider's."""
        calls = list(self._calls if provider is None else self._by_provider.get(provider, ()))
        cutoff = time.monotonic() - 60
        errors = sum(1 for _, _, ok in calls if not ok)
        recent = self._minute if provider is None else (c[0] for c in calls)
        return CallPerformance(
            calls=len(calls),
            avg_latency_ms=(round(sum(c[1] for c in calls) / len(calls), 2) if calls else None),
            calls_per_minute=sum(1 for moment in recent if moment >= cutoff),
            error_rate=round(errors / len(calls), 4) if calls else 0.0,
            last_call_at=self.last_call_at if provider is None else self._last_at.get(provider),
        )

    def last_outcome(self, provider: str) -> bool | None:
        """Whether the provider's latest call succeeded, if it made one recently."""
        seen = self._last.get(provider)
        if seen is None or time.monotonic() - seen[0] > RECENT_CALL_S:
            return None
        return seen[1]


def provider_state(router: RouterView, stats: ModelCallStats, provider: str) -> ProviderState:
    """One provider now: not configured; failing (breaker open); recovering (half open) or
    its latest call failed; its latest call worked; or configured with no recent call."""
    if provider not in router.providers:
        return "not_configured"
    breaker = router.breakers.get(provider)
    state = breaker.state if breaker is not None else "closed"
    if state == "open":
        return "unhealthy"
    outcome = stats.last_outcome(provider)
    if state == "half_open" or outcome is False:
        return "degraded"
    return "healthy" if outcome else "configured"


def provider_states(
    router: RouterView, stats: ModelCallStats, known: list[str]
) -> dict[str, ProviderState]:
    names = dict.fromkeys([*known, *router.providers])
    return {name: provider_state(router, stats, name) for name in names}


def router_health(router: RouterView) -> RouterHealth:
    failing = sorted(name for name, b in router.breakers.items() if b.state == "open")
    try:
        primary: str | None = router.primary().model_id
    except Exception:  # no model can be called: the report says so instead of failing
        primary = None
    every = bool(router.breakers) and len(failing) == len(router.breakers)
    state: RouterState = (
        "failing" if every or primary is None else "degraded" if failing else "operational"
    )
    status: Status = (
        "healthy" if state == "operational" else "degraded" if state == "degraded" else "unhealthy"
    )
    return RouterHealth(
        status=status,
        state=state,
        primary_model=primary,
        models_available=len(router.callable_models()),
        providers_failing=failing,
    )
