"""The router: which model answers, and what happens when a provider fails.

A call goes to the requested model (or the primary one) and falls back along the chain when
a provider answers 429 or 5xx, times out or drops the connection. Each provider is retried
with exponential backoff first (tenacity), and one that keeps failing is skipped while its
circuit is open. Fallback happens only before the first event reaches the caller: once text
has been streamed, a failure ends the stream with an error event instead of mixing answers.
Every attempt, successful or not, lands in the usage ledger.

Choosing by capability and preference is `selection.py`; retrying one provider before
falling back is `retry.py`; this module resolves models and fails over along the chain.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable

from menagerie.core.errors import MenagerieError, NotFound, QuotaExceeded, Unavailable
from menagerie.core.llm.breaker import CircuitBreaker
from menagerie.core.llm.catalog import Catalog, ModelInfo
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
    Usage,
)
from menagerie.core.llm.providers.base import Provider
from menagerie.core.llm.providers.factory import OFFLINE
from menagerie.core.llm.quotas import QuotaService
from menagerie.core.llm.retry import open_stream
from menagerie.core.llm.routing import (
    Availability,
    CallOptions,
    EndpointWaker,
    Routed,
    RoutedCompletion,
    RoutedEvent,
)
from menagerie.core.llm.selection import Alternative, Selection, estimate, price, select
from menagerie.core.llm.tokens import estimate_message_tokens, estimate_tokens
from menagerie.core.llm.usage import UsageLedger, UsageRecord

log = logging.getLogger(__name__)


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
        if not self._ready(model.provider):
            return "unavailable"
        return "degraded" if self.breakers[model.provider].state == "open" else "available"

    def callable_models(self) -> list[ModelInfo]:
        return [m for m in self.catalog if self._ready(m.provider)]

    def _ready(self, provider: str) -> bool:
        """Configured, and not still being prepared (the embedded model builds at first start)."""
        found = self.providers.get(provider)
        return found is not None and found.available

    def resolve(self, model_id: str) -> ModelInfo:
        """A catalogue id, or `provider/model` for a model the catalogue does not list."""
        model = self.catalog.get(model_id)
        if model is None:
            provider, sep, name = model_id.partition("/")
            if sep and self._ready(provider) and name:
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
        provider = self.providers[model.provider]
        if not provider.available:
            raise Unavailable(
                f"model {model_id!r} is not ready: {provider.unavailable_reason()}",
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
            return min((m for m in real if m.provider == first), key=price)
        return real[0]

    def resolve_offline(self) -> ModelInfo:
        return next(m for m in self.catalog if m.provider == OFFLINE)

    def chain(self, model_id: str | None = None) -> list[ModelInfo]:
        """The requested (or primary) model, then the configured fallbacks that can be called."""
        first = self.resolve(model_id) if model_id else self.primary()
        if self.fallbacks:
            rest = [self.catalog.get(name) for name in self.fallbacks]
            candidates = [m for m in rest if m is not None and self._ready(m.provider)]
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

    # --- choosing by capability and preference (selection.py) ---------------------------

    def estimate(self, model: ModelInfo, input_tokens: int) -> Alternative:
        return estimate(model, input_tokens)

    def select(
        self,
        capabilities: Iterable[str] = (),
        *,
        cost_preference: str = "balanced",
        speed_preference: str = "balanced",
        input_tokens: int = 0,
    ) -> Selection:
        return select(
            self.callable_models(),
            lambda model: self.availability(model) == "available",
            capabilities,
            cost_preference=cost_preference,
            speed_preference=speed_preference,
            input_tokens=input_tokens,
        )

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
                first, events = await open_stream(
                    provider, request, retries=self.retries, backoff_s=self.backoff_s
                )
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
