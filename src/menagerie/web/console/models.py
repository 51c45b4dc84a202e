"""The models page's API: the catalogue (each model's availability, and why not), the
caller's tenant's usage in hourly or daily buckets from the ledger, its token quotas per
provider, and the managed model endpoints, which admins wake and put to sleep."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from menagerie.core.clock import iso
from menagerie.core.llm.endpoints.models import EndpointStatus
from menagerie.core.llm.usage import Period
from menagerie.core.redact import Redactor
from menagerie.web.console.deps import ConsoleAdminDep, ConsolePrincipalDep, PlatformDep
from menagerie.web.console.schemas.models import (
    EndpointList,
    EndpointOut,
    ModelList,
    ModelOut,
    QuotaList,
    QuotaOut,
    UsageBucketOut,
    UsageSeriesOut,
)

router = APIRouter(tags=["models"])

PER_MILLION = 1000  # the catalogue prices 1,000 tokens; the page shows a million's price
EndpointName = Annotated[str, Path(max_length=64)]


def as_sentence(text: str | None) -> str | None:
    """Core's reasons start lower-case, as they are also read inside other sentences."""
    if not text:
        return None
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


@router.get("/models", response_model=ModelList)
async def models(platform: PlatformDep, principal: ConsolePrincipalDep) -> ModelList:
    statuses = await platform.llm.models(principal.tenant_id)
    listed = [
        ModelOut(
            id=s.model.model_id,
            provider=s.model.provider,
            name=s.model.display_name,
            description=s.model.description,
            capabilities=sorted(s.model.capabilities),
            context_window=s.model.context_window,
            max_output_tokens=s.model.max_output_tokens,
            input_per_million=round(s.model.cost_per_1k_input * PER_MILLION, 4),
            output_per_million=round(s.model.cost_per_1k_output * PER_MILLION, 4),
            tier=s.model.performance_tier,
            availability=s.availability,
            reason=as_sentence(s.reason),
            quota_remaining=s.quota_remaining,
        )
        for s in statuses
    ]
    return ModelList(models=listed, providers=sorted({m.provider for m in listed}))


@router.get("/models/usage", response_model=UsageSeriesOut)
async def usage(
    platform: PlatformDep,
    principal: ConsolePrincipalDep,
    period: Annotated[Period, Query()] = "day",
) -> UsageSeriesOut:
    """The caller's tenant's calls: the 24 hours of a day, or the days of a week or month."""
    series = await platform.llm.ledger.series(principal.tenant_id, period)
    buckets = [
        UsageBucketOut(
            start=iso(b.start) or "",
            requests=b.requests,
            errors=b.errors,
            input_tokens=b.input_tokens,
            output_tokens=b.output_tokens,
            tokens=b.total_tokens,
            cost=round(b.cost, 6),
        )
        for b in series.buckets
    ]
    return UsageSeriesOut(
        period=period,
        step=series.step,
        buckets=buckets,
        total_requests=sum(b.requests for b in buckets),
        total_tokens=series.total_tokens,
        total_cost=round(series.total_cost, 6),
    )


@router.get("/models/quotas", response_model=QuotaList)
async def quotas(platform: PlatformDep, principal: ConsolePrincipalDep) -> QuotaList:
    report = await platform.llm.quotas.report(principal.tenant_id)
    return QuotaList(
        quotas=[
            QuotaOut(
                provider=q.provider,
                used=q.used,
                limit=q.limit,
                remaining=q.remaining,
                percentage=q.percentage,
                reset_at=iso(q.reset_at) or "",
            )
            for q in report
        ]
    )


def endpoint_out(status: EndpointStatus, redact: Redactor) -> EndpointOut:
    # no URL: a managed endpoint's address may carry credentials, and the page needs none
    return EndpointOut(
        name=status.name,
        kind=status.kind,
        model=status.model,
        status=status.status,
        last_activity=iso(status.last_activity),
        auto_sleep_in=status.auto_sleep_in,
        error=redact(status.error) if status.error else None,
    )


@router.get("/models/endpoints", response_model=EndpointList)
async def endpoints(platform: PlatformDep, principal: ConsolePrincipalDep) -> EndpointList:
    """The installation's endpoints: its operator tenant sees them, other tenants see none."""
    found = platform.endpoints.statuses_for(principal)
    return EndpointList(
        endpoints=[endpoint_out(s, platform.redactor) for s in found],
        can_manage=principal.is_admin,
    )


@router.post("/models/endpoints/{name}/wake", response_model=EndpointOut)
async def wake(
    name: EndpointName, platform: PlatformDep, principal: ConsoleAdminDep
) -> EndpointOut:
    """Asks it to wake; its progress arrives on the `llm.endpoints` events."""
    platform.endpoints.wake_for(principal, name)
    return endpoint_out(platform.endpoints.status_for(principal, name), platform.redactor)


@router.post("/models/endpoints/{name}/sleep", response_model=EndpointOut)
async def sleep(
    name: EndpointName, platform: PlatformDep, principal: ConsoleAdminDep
) -> EndpointOut:
    platform.endpoints.sleep_for(principal, name)
    return endpoint_out(platform.endpoints.status_for(principal, name), platform.redactor)
