"""The router: which model answers, and what happens when a provider fails.

A call goes to the requested model (or the primary one) and falls back along the chain when
a provider answers 429 or 5xx, times out or drops the connection. Each provider is retried
with exponential backoff first (tenacity), and one that keeps failing is skipped while its
circuit is open. Fallback happens only before the first event reaches the caller: once text
has been streamed, a failure ends the stream with an error event instead of mixing answers.
Every attempt, successful or not, lands in the usage ledger.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from menagerie.core.errors import Invalid, MenagerieError, NotFound, QuotaExceeded, Unavailable
from menagerie.core.llm.breaker import CircuitBreaker
from menagerie.core.llm.catalog import Catalog, ModelInfo, normalise_capability
from menagerie.core.llm.errors import ProviderError, ProviderUnavailable
from menagerie.core.llm.models import (
    ChatMessage,
    ChatRequest,
    Finish,
    FinishReason,
    StreamError,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    ToolSpec,
    Usage,
)
from menagerie.core.llm.providers.base import Provider
from menagerie.core.llm.providers.factory import OFFLINE
from menagerie.core.llm.quotas import QuotaService
from menagerie.core.llm.tokens import estimate_message_tokens, estimate_tokens
from menagerie.core.llm.usage import UsageLedger, UsageRecord

log = logging.getLogger(__name__)

Availability = Literal["available", "degraded", "unavailable"]
EXPECTED_OUTPUT_TOKENS = 256  # for estimates before a call
TIER_QUALITY = {"basic": 0.0, "standard": 1 / 3, "high": 2 / 3, "premium": 1.0}
COST_WEIGHT = {"low": 0.6, "economy": 0.6, "cheap": 0.6, "balanced": 0.3, "premium": 0.0}
SPEED_WEIGHT = {"fast": 0.5, "balanced": 0.25, "thorough": 0.0, "quality": 0.0}


class EndpointWaker(Protocol):
    """Managed endpoints (sleeping model servers) as the router needs them."""

    def names(self) -> Iterable[str]: ...

    async def ensure_awake(self, name: str, timeout_s: float | None = None) -> str: ...

    def touch(self, name: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Routed:
    """First event of a routed stream: which model answers, and which failed before it."""

    model_id: str
    provider: str
    fallback_from: tuple[str, ...] = ()
    type: Literal["routed"] = "routed"


RoutedEvent = Routed | StreamEvent


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


@dataclass(frozen=True, slots=True)
class RoutedCompletion:
    model_id: str
    provider: str
    text: str
    tool_calls: tuple[ToolCall, ...]
    usage: Usage
    finish_reason: FinishReason
    cost: float
    latency_s: float
    fallback_from: tuple[str, ...] = ()


@dataclass
class CallOptions:
    temperature: float | None = None
    max_tokens: int | None = None
    tool_choice: Literal["auto", "none", "required"] | None = None
    tools: tuple[ToolSpec, ...] = field(default_factory=tuple)


class Router:
    def __init__(
        self,
        catalog: Catalog,
        providers: dict[str, Provider],
        ledger: UsageLedger,
        quotas: QuotaService,
        *,
        retries: int = 2,
        backoff_s: float = 0.5,
        breaker_failures: int = 5,
        breaker_cooldown_s: float = 30.0,
        primary: str | None = None,
        default_provider: str | None = None,
        fallbacks: Iterable[str] = (),
        cost_optimization: bool = True,
        endpoints: EndpointWaker | None = None,
    ) -> None:
        self.catalog = catalog
        self.providers = providers
        self.ledger = ledger
        self.quotas = quotas
        self.retries = retries
        self.backoff_s = backoff_s
        self.breakers = {
            name: CircuitBreaker(breaker_failures, breaker_cooldown_s) for name in providers
        }
        self.configured_primary = primary
        self.default_provider = default_provider
        self.fallbacks = list(fallbacks)
        self.cost_optimization = cost_optimization
        self.endpoints = endpoints
        self._endpoint_names = set(endpoints.names()) if endpoints is not None else set()

    # --- what can be called ------------------------------------------------------------

    def availability(self, model: ModelInfo) -> Availability:
        if model.provider not in self.providers:
            return "unavailable"
        return "degraded" if self.breakers[model.provider].state == "open" else "available"

    def callable_models(self) -> list[ModelInfo]:
        return [m for m in self.catalog if m.provider in self.providers]

    def resolve(self, model_id: str) -> ModelInfo:
        """A catalogue id, or `provider/model` for a model the catalogue does not list."""
        model = self.catalog.get(model_id)
        if model is None:
            provider, sep, name = model_id.partition("/")
            if sep and provider in self.providers and name:
                return ModelInfo(model_id, provider, name, upstream_model=name)
            raise NotFound(
                f"unknown model {model_id!r}",
                reason="MODEL_NOT_FOUND",
                details={
                    "model": model_id,
                    "available": [m.model_id for m in self.callable_models()],
                },
            )
        if model.provider not in self.providers:
            raise Unavailable(
                f"model {model_id!r} needs provider {model.provider!r}, which is not configured",
                service=f"llm:{model.provider}",
                reason="MODEL_UNAVAILABLE",
            )
        return model

    def primary(self) -> ModelInfo:
        if self.configured_primary:
            return self.resolve(self.configured_primary)
        real = [m for m in self.callable_models() if m.provider != OFFLINE]
        if self.default_provider and self.default_provider in self.providers:
            real = [m for m in self.callable_models() if m.provider == self.default_provider]
        if not real:
            return self.resolve_offline()
        if self.cost_optimization:
            # the cheapest capable model of the first configured provider keeps bills low
            first = real[0].provider
            return min((m for m in real if m.provider == first), key=_price)
        return real[0]

    def resolve_offline(self) -> ModelInfo:
        return next(m for m in self.catalog if m.provider == OFFLINE)

    def chain(self, model_id: str | None = None) -> list[ModelInfo]:
        """The requested (or primary) model, then the configured fallbacks that can be called."""
        first = self.resolve(model_id) if model_id else self.primary()
        if self.fallbacks:
            rest = [self.catalog.get(name) for name in self.fallbacks]
            candidates = [m for m in rest if m is not None and m.provider in self.providers]
        else:
            # no chain configured: one model from each other configured provider, never the
            # offline echo, which would pass off a non-answer as an answer
            seen = {first.provider}
            candidates = []
            for model in self.callable_models():
                if model.provider not in seen and model.provider != OFFLINE:
                    seen.add(model.provider)
                    candidates.append(model)
        ordered = [first]
        for model in candidates:
            if model.model_id not in {m.model_id for m in ordered}:
                ordered.append(model)
        return ordered

    # --- choosing by capability and preference -------------------------------------------

    def estimate(self, model: ModelInfo, input_tokens: int) -> Alternative:
        output = min(EXPECTED_OUTPUT_TOKENS, model.max_output_tokens)
        seconds = model.typical_latency_s + output / 100  # ~100 tokens/s of generation
        return Alternative(model, round(model.cost(input_tokens, output), 6), round(seconds, 2))

    def select(
        self,
        capabilities: Iterable[str] = (),
        *,
        cost_preference: str = "balanced",
        speed_preference: str = "balanced",
        input_tokens: int = 0,
    ) -> Selection:
        cost_weight = _weight(COST_WEIGHT, cost_preference, "cost_preference")
        speed_weight = _weight(SPEED_WEIGHT, speed_preference, "speed_preference")
        required = frozenset(normalise_capability(c) for c in capabilities if c.strip())
        pool = [m for m in self.callable_models() if self.availability(m) == "available"]
        if not pool:
            raise Unavailable("no model provider is reachable", service="llm")
        real = [m for m in pool if m.provider != OFFLINE]
        pool = real or pool
        full = [m for m in pool if required <= m.capabilities]
        ranked_pool = full or pool
        top_price = max((_price(m) for m in ranked_pool), default=0.0) or 1.0
        top_latency = max((m.typical_latency_s for m in ranked_pool), default=0.0) or 1.0

        def score(model: ModelInfo) -> float:
            quality = TIER_QUALITY.get(model.performance_tier, 0.5)
            coverage = len(required & model.capabilities) / len(required) if required else 1.0
            return (
                coverage
                + 0.4 * quality
                - cost_weight * _price(model) / top_price
                - speed_weight * model.typical_latency_s / top_latency
            )

        ranked = sorted(ranked_pool, key=lambda m: (-score(m), _price(m), m.model_id))
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
        alternatives = [self.estimate(m, input_tokens) for m in ranked[1:4]]
        return Selection(best, reason, round(score(best), 4), alternatives, missing)

    # --- calling -------------------------------------------------------------------------

    async def stream(
        self,
        messages: Iterable[ChatMessage],
        *,
        tenant_id: str,
        user_id: str | None = None,
        model_id: str | None = None,
        options: CallOptions | None = None,
        fallback: bool = True,
    ) -> AsyncIterator[RoutedEvent]:
        options = options or CallOptions()
        messages = tuple(messages)
        chain = self.chain(model_id) if fallback else [self.resolve(model_id or "")]
        failures: list[str] = []
        failed_models: list[str] = []
        errors: list[MenagerieError] = []
        for model in chain:
            provider = self.providers[model.provider]
            breaker = self.breakers[model.provider]
            try:
                await self.quotas.check(tenant_id, model.provider)
            except QuotaExceeded as exc:
                errors.append(exc)
                failures.append(f"{model.model_id}: quota used up")
                continue
            if not breaker.allow():
                message = (
                    f"provider {model.provider} skipped: it keeps failing, its circuit is open "
                    f"for {breaker.retry_after_s():.0f}s more"
                )
                errors.append(Unavailable(message, service=f"llm:{model.provider}"))
                failures.append(f"{model.model_id}: {message}")
                continue
            request = ChatRequest(
                model.provider_model,
                messages,
                options.tools,
                options.temperature,
                options.max_tokens,
                options.tool_choice,
            )
            started = time.perf_counter()
            try:
                await self._wake_endpoint(model.provider)
                first, events = await self._open(provider, request)
            except ProviderError as exc:
                if exc.retryable:
                    breaker.record_failure()
                else:
                    breaker.record_success()  # the provider answered; the request was at fault
                self._record(tenant_id, user_id, model, Usage(), started, exc.reason)
                if not exc.retryable:
                    raise
                log.warning("model %s failed, falling back: %s", model.model_id, exc.message)
                errors.append(exc)
                failures.append(f"{model.model_id}: {exc.message}")
                failed_models.append(model.model_id)
                continue
            except MenagerieError as exc:  # an endpoint that would not wake
                breaker.record_failure()
                errors.append(exc)
                failures.append(f"{model.model_id}: {exc.message}")
                failed_models.append(model.model_id)
                continue
            yield Routed(model.model_id, model.provider, tuple(failed_models))
            relay = self._relay(first, events, model, request, breaker, tenant_id, user_id, started)
            # closing the relay when our caller stops early records the call and frees the socket
            async with contextlib.aclosing(relay):
                async for event in relay:
                    yield event
            return
        if len(errors) == 1:
            raise errors[0]  # one model was tried: its own error says most
        raise Unavailable(
            "no model could answer: " + "; ".join(failures),
            service="llm",
            reason="MODEL_UNAVAILABLE",
            details={"attempts": failures},
        )

    async def _relay(
        self,
        first: StreamEvent,
        events: AsyncIterator[StreamEvent],
        model: ModelInfo,
        request: ChatRequest,
        breaker: CircuitBreaker,
        tenant_id: str,
        user_id: str | None,
        started: float,
    ) -> AsyncIterator[StreamEvent]:
        usage: Usage | None = None
        produced: list[str] = []
        error_code: str | None = "CANCELLED"  # until the stream ends one way or the other
        try:
            event: StreamEvent | None = first
            while event is not None:
                if isinstance(event, Usage):
                    usage = event
                elif isinstance(event, TextDelta):
                    produced.append(event.text)
                elif isinstance(event, ToolCallEvent):
                    produced.append(event.call.name + event.call.arguments)
                yield event
                try:
                    event = await anext(events)
                except StopAsyncIteration:
                    event = None
            error_code = None
            breaker.record_success()
        except ProviderError as exc:
            error_code = exc.reason
            breaker.record_failure()
            yield StreamError(exc.message, exc.reason, exc.retryable)
            yield Finish("error")
        finally:
            with contextlib.suppress(Exception):
                await events.aclose()
            if usage is None:
                # the provider gave no counts (a cut stream, the offline model): estimate them
                usage = Usage(
                    estimate_message_tokens(request.messages), estimate_tokens("".join(produced))
                )
            self._record(tenant_id, user_id, model, usage, started, error_code)
            if self.endpoints is not None and model.provider in self._endpoint_names:
                self.endpoints.touch(model.provider)

    async def complete(
        self,
        messages: Iterable[ChatMessage],
        *,
        tenant_id: str,
        user_id: str | None = None,
        model_id: str | None = None,
        options: CallOptions | None = None,
        fallback: bool = True,
    ) -> RoutedCompletion:
        started = time.perf_counter()
        routed: Routed | None = None
        text: list[str] = []
        calls: list[ToolCall] = []
        usage = Usage()
        reason: FinishReason = "stop"
        async for event in self.stream(
            messages,
            tenant_id=tenant_id,
            user_id=user_id,
            model_id=model_id,
            options=options,
            fallback=fallback,
        ):
            if isinstance(event, Routed):
                routed = event
            elif isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, ToolCallEvent):
                calls.append(event.call)
            elif isinstance(event, Usage):
                usage = event
            elif isinstance(event, Finish):
                reason = event.reason
            elif isinstance(event, StreamError):
                assert routed is not None
                raise ProviderUnavailable(
                    f"the answer from {routed.model_id} broke off: {event.message}",
                    provider=routed.provider,
                    reason=event.code,
                )
        assert routed is not None
        model = self.resolve(routed.model_id)
        return RoutedCompletion(
            routed.model_id,
            routed.provider,
            "".join(text),
            tuple(calls),
            usage,
            reason,
            round(model.cost(usage.input_tokens, usage.output_tokens), 6),
            time.perf_counter() - started,
            routed.fallback_from,
        )

    async def _open(
        self, provider: Provider, request: ChatRequest
    ) -> tuple[StreamEvent, AsyncIterator[StreamEvent]]:
        """Start a stream and wait for its first event, retrying what is worth retrying."""
        try:  # the first try needs no retry machinery: most calls succeed at it
            return await self._attempt(provider, request)
        except ProviderError as exc:
            if not exc.retryable or self.retries <= 0:
                raise
            failed: ProviderError | None = exc
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential_jitter(
                initial=self.backoff_s, max=self.backoff_s * 8, jitter=self.backoff_s
            ),
            retry=retry_if_exception(lambda e: isinstance(e, ProviderError) and e.retryable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if failed is not None:  # tenacity's first attempt is the one that just failed
                    error, failed = failed, None
                    raise error
                return await self._attempt(provider, request)
        raise AssertionError("unreachable: tenacity re-raises the last failure")

    @staticmethod
    async def _attempt(
        provider: Provider, request: ChatRequest
    ) -> tuple[StreamEvent, AsyncIterator[StreamEvent]]:
        events = aiter(provider.stream(request))
        try:
            first = await anext(events)
        except StopAsyncIteration:
            raise ProviderUnavailable(
                "the provider closed the stream without an answer", provider=provider.name
            ) from None
        except BaseException:
            with contextlib.suppress(Exception):
                await events.aclose()  # type: ignore[attr-defined]
            raise
        return first, events

    async def _wake_endpoint(self, provider: str) -> None:
        if self.endpoints is not None and provider in self._endpoint_names:
            await self.endpoints.ensure_awake(provider)

    def _record(
        self,
        tenant_id: str,
        user_id: str | None,
        model: ModelInfo,
        usage: Usage,
        started: float,
        error_code: str | None,
    ) -> None:
        self.ledger.record(
            UsageRecord(
                tenant_id=tenant_id,
                user_id=user_id,
                model=model.model_id,
                provider=model.provider,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cost=round(model.cost(usage.input_tokens, usage.output_tokens), 8),
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
                outcome="ok" if error_code is None else "error",
                error_code=error_code,
            )
        )

    async def aclose(self) -> None:
        for provider in self.providers.values():
            with contextlib.suppress(Exception):
                await provider.aclose()


def _price(model: ModelInfo) -> float:
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
