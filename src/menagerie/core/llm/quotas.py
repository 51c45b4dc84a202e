"""Token quotas per tenant and provider, per calendar month (UTC).

Limits come from settings (`llm_quotas`, the same for every tenant) and may be overridden per
tenant in the database. Usage is read from the ledger and cached briefly; calls made by this
process are added as they happen, so the cache never lags behind our own traffic.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select

from menagerie.core.clock import utcnow
from menagerie.core.errors import Invalid, QuotaExceeded
from menagerie.core.llm.tables import QuotaRow
from menagerie.core.llm.usage import UsageLedger, UsageRecord
from menagerie.storage.database import Database

CACHE_TTL_S = 5.0  # other replicas' calls show up within this


@dataclass(frozen=True, slots=True)
class QuotaUsage:
    provider: str
    used: int
    limit: int
    reset_at: datetime

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def percentage(self) -> float:
        return round(100.0 * self.used / self.limit, 2) if self.limit else 100.0


def month_start(now: datetime) -> datetime:
    return datetime(now.year, now.month, 1, tzinfo=UTC)


def next_month_start(now: datetime) -> datetime:
    if now.month == 12:
        return datetime(now.year + 1, 1, 1, tzinfo=UTC)
    return datetime(now.year, now.month + 1, 1, tzinfo=UTC)


class QuotaService:
    def __init__(self, database: Database, ledger: UsageLedger, defaults: dict[str, int]) -> None:
        self.database = database
        self.ledger = ledger
        self.defaults = dict(defaults)
        self._used: dict[tuple[str, str, datetime], tuple[int, float]] = {}
        self._limits: dict[str, tuple[dict[str, int], float]] = {}
        ledger.on_record(self._count)

    def _count(self, entry: UsageRecord) -> None:
        key = (entry.tenant_id, entry.provider, month_start(entry.created_at or utcnow()))
        if key in self._used:
            used, loaded_at = self._used[key]
            self._used[key] = (used + entry.input_tokens + entry.output_tokens, loaded_at)

    async def limits(self, tenant_id: str) -> dict[str, int]:
        cached = self._limits.get(tenant_id)
        if cached is not None and time.monotonic() - cached[1] < CACHE_TTL_S:
            return cached[0]
        async with self.database.session() as session:
            rows = (
                await session.execute(select(QuotaRow).where(QuotaRow.tenant_id == tenant_id))
            ).scalars()
            limits = {**self.defaults, **{row.provider: row.token_limit for row in rows}}
        self._limits[tenant_id] = (limits, time.monotonic())
        return limits

    async def set_limit(self, tenant_id: str, provider: str, token_limit: int | None) -> None:
        """Give a tenant its own limit for a provider; `None` returns it to the default."""
        if token_limit is not None and token_limit < 0:
            raise Invalid(
                "a quota is a number of tokens, zero or more",
                field="token_limit",
                received=token_limit,
                expected="integer >= 0",
            )
        async with self.database.session() as session:
            await session.execute(
                delete(QuotaRow).where(
                    QuotaRow.tenant_id == tenant_id, QuotaRow.provider == provider
                )
            )
            if token_limit is not None:
                session.add(
                    QuotaRow(tenant_id=tenant_id, provider=provider, token_limit=token_limit)
                )
            await session.commit()
        self._limits.pop(tenant_id, None)

    async def used(self, tenant_id: str, provider: str) -> int:
        start = month_start(utcnow())
        key = (tenant_id, provider, start)
        cached = self._used.get(key)
        if cached is not None and time.monotonic() - cached[1] < CACHE_TTL_S:
            return cached[0]
        used = await self.ledger.tokens_used(tenant_id, provider, start)
        self._used[key] = (used, time.monotonic())
        return used

    async def usage(self, tenant_id: str, provider: str) -> QuotaUsage | None:
        limit = (await self.limits(tenant_id)).get(provider)
        if limit is None:
            return None
        used = await self.used(tenant_id, provider)
        return QuotaUsage(provider, used, limit, next_month_start(utcnow()))

    async def report(self, tenant_id: str) -> list[QuotaUsage]:
        limits = await self.limits(tenant_id)
        return [u for p in sorted(limits) if (u := await self.usage(tenant_id, p)) is not None]

    async def check(self, tenant_id: str, provider: str) -> None:
        """Raise `INSUFFICIENT_QUOTA` when the tenant has used up its tokens for the provider."""
        usage = await self.usage(tenant_id, provider)
        if usage is not None and usage.used >= usage.limit:
            raise QuotaExceeded(
                f"the token quota for provider {provider!r} is used up until "
                f"{usage.reset_at.date().isoformat()}",
                reason="INSUFFICIENT_QUOTA",
                details={
                    "provider": provider,
                    "used": usage.used,
                    "limit": usage.limit,
                    "reset_at": usage.reset_at.isoformat().replace("+00:00", "Z"),
                },
            )
