"""The models service: the catalogue, the router, the ledger and quotas, built from settings."""

from __future__ import annotations

from dataclasses import dataclass

from menagerie.core.events import EventBus
from menagerie.core.llm.catalog import Catalog, ModelInfo
from menagerie.core.llm.connection import TestedProvider, check_connection
from menagerie.core.llm.local.backend import NAME as LOCAL
from menagerie.core.llm.local.catalog import catalog_entry
from menagerie.core.llm.local.provider import LocalProvider
from menagerie.core.llm.local.service import LocalModel
from menagerie.core.llm.models import ChatMessage
from menagerie.core.llm.probe import DEFAULT_PROMPT, ProbeResult, probe_provider
from menagerie.core.llm.providers.base import ProviderConfig
from menagerie.core.llm.providers.factory import OFFLINE, build_provider, provider_configs
from menagerie.core.llm.providers.offline import MODEL as OFFLINE_MODEL
from menagerie.core.llm.quotas import QuotaService, QuotaUsage
from menagerie.core.llm.router import (
    Availability,
    CallOptions,
    EndpointWaker,
    RoutedCompletion,
    Router,
)
from menagerie.core.llm.selection import Selection
from menagerie.core.llm.tokens import estimate_tokens
from menagerie.core.llm.usage import Period, UsageLedger, UsageSummary
from menagerie.settings import Settings
from menagerie.storage.database import Database


@dataclass(frozen=True, slots=True)
class ModelStatus:
    model: ModelInfo
    availability: Availability
    quota_remaining: int | None  # tokens left this month for the caller's tenant; None: no limit
    reason: str | None = None  # why it cannot be called now (or only after a wait), a sentence


@dataclass(frozen=True, slots=True)
class RoutingPreferences:
    primary: str
    fallback: list[str]
    cost_optimization: bool


@dataclass(frozen=True, slots=True)
class RouteOutcome:
    selection: Selection
    completion: RoutedCompletion


@dataclass(frozen=True, slots=True)
class UsageReport:
    summary: UsageSummary
    quotas: list[QuotaUsage]
    cost_savings: float  # against the most expensive callable model for the same tokens


class LlmService:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        events: EventBus,
        endpoints: EndpointWaker | None = None,
        local: LocalModel | None = None,
    ) -> None:
        self.settings = settings
        configs = provider_configs(settings)
        delay = settings.offline_token_delay_ms / 1000
        notice = local.notice if local is not None else None
        self.providers = {
            name: build_provider(config, offline_token_delay_s=delay, offline_notice=notice)
            for name, config in configs.items()
        }
        self.local = local
        if local is not None and local.path is not None:
            config = ProviderConfig(LOCAL, "openai", None, local.base_url, settings.llm_timeout_s)
            self.providers[LOCAL] = LocalProvider(config, local)
        extra_models = {p.name: p.models for p in settings.llm_providers}
        for endpoint in settings.llm_endpoints:
            if endpoint.model and endpoint.name in configs:
                extra_models.setdefault(endpoint.name, []).append(endpoint.model)
        self.catalog = Catalog.build(settings.resolved_data_dir, extra_models)
        self.ledger = UsageLedger(database)
        self.quotas = QuotaService(database, self.ledger, settings.llm_quotas)
        self.events = events
        self.router = Router(
            self.catalog,
            self.providers,
            self.ledger,
            self.quotas,
            retries=settings.llm_retries,
            backoff_s=settings.llm_retry_backoff_s,
            breaker_failures=settings.llm_breaker_failures,
            breaker_cooldown_s=settings.llm_breaker_cooldown_s,
            primary=settings.llm_primary_model,
            default_provider=settings.default_provider,
            fallbacks=settings.llm_fallback_models,
            cost_optimization=settings.llm_cost_optimization,
            endpoints=endpoints,
        )
        if local is not None:
            local.on_described(
                lambda model: self.catalog.add(catalog_entry(model, settings.local_model_context))
            )

    async def start(self) -> None:
        await self.ledger.start()

    async def stop(self) -> None:
        await self.ledger.stop()
        await self.router.aclose()

    async def models(self, tenant_id: str) -> list[ModelStatus]:
        """Every catalogue model with whether it can be called and the tenant's quota left."""
        remaining: dict[str, int | None] = {}
        statuses = []
        for model in self.catalog:
            if model.provider not in remaining:
                usage = await self.quotas.usage(tenant_id, model.provider)
                remaining[model.provider] = None if usage is None else usage.remaining
            availability = self.router.availability(model)
            statuses.append(
                ModelStatus(
                    model,
                    availability,
                    remaining[model.provider],
                    self._why(model.provider, availability),
                )
            )
        return statuses

    def _why(self, provider: str, availability: Availability) -> str | None:
        if availability == "available":
            return None
        found = self.providers.get(provider)
        if found is None:
            return f"provider {provider} is not configured (it needs an API key or a base URL)"
        if availability == "unavailable":
            return found.unavailable_reason() or f"provider {provider} is not ready yet"
        wait = self.router.breakers[provider].retry_after_s()
        return (
            f"provider {provider}'s recent calls failed; "
            f"it is tried again in {max(1, round(wait))} s"
        )

    def routing_preferences(self) -> RoutingPreferences:
        chain = self.router.chain()
        return RoutingPreferences(
            chain[0].model_id, [m.model_id for m in chain[1:]], self.router.cost_optimization
        )

    async def route(
        self,
        message: str,
        *,
        tenant_id: str,
        user_id: str | None,
        capabilities: list[str],
        cost_preference: str = "balanced",
        speed_preference: str = "balanced",
        system_prompt: str | None = None,
    ) -> RouteOutcome:
        """Pick the model for this message, then ask it (falling back if it fails)."""
        selection = self.router.select(
            capabilities,
            cost_preference=cost_preference,
            speed_preference=speed_preference,
            input_tokens=estimate_tokens(message),
        )
        messages = []
        if system_prompt:
            messages.append(ChatMessage("system", system_prompt))
        messages.append(ChatMessage("user", message))
        completion = await self.router.complete(
            messages,
            tenant_id=tenant_id,
            user_id=user_id,
            model_id=selection.model.model_id,
            options=CallOptions(),
        )
        return RouteOutcome(selection, completion)

    async def check_connection(
        self,
        provider: TestedProvider,
        model: str,
        *,
        api_key: str | None = None,
        prompt: str | None = None,
    ) -> ProbeResult:
        """One direct call to `provider` with the caller's key: no router, no fallback, no
        quota, since the caller wants to know about this provider and nothing else."""
        local = self.local
        if provider == "local" and local is not None and local.path is not None:
            # the embedded model, woken for the test; while it is being prepared the offline
            # model answers and says so (the result names the model that really answered)
            if local.available and self.router.endpoints is not None:
                await self.router.endpoints.ensure_awake(LOCAL)
                provider = self.providers[LOCAL]  # it counts tokens with the model's tokenizer
                return await probe_provider(
                    provider.config, local.model_id, prompt or DEFAULT_PROMPT, provider=provider
                )
            offline = self.providers[OFFLINE]
            return await probe_provider(
                offline.config, OFFLINE_MODEL, prompt or DEFAULT_PROMPT, provider=offline
            )
        return await check_connection(
            provider, model, self.settings, api_key=api_key, prompt=prompt
        )

    async def usage(
        self, tenant_id: str, period: Period = "day", model: str | None = None
    ) -> UsageReport:
        summary = await self.ledger.summary(tenant_id, period, model)
        callable_models = [m for m in self.router.callable_models()]
        savings = 0.0
        for row in summary.models:
            if not callable_models:
                break
            dearest = max(
                callable_models, key=lambda m: m.cost(row.input_tokens, row.output_tokens)
            )
            savings += dearest.cost(row.input_tokens, row.output_tokens) - row.total_cost
        return UsageReport(summary, await self.quotas.report(tenant_id), round(max(savings, 0), 6))
