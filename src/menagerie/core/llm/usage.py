"""The usage ledger: every upstream model call, with tokens, cost, latency and outcome.

Calls are recorded off the request path: `record()` queues the entry and a writer task
flushes batches, so a chat never waits on a ledger insert. `flush()` (and stopping) writes
everything queued; readers flush first, so a caller always sees its own calls. Readers: a
summary per model over a period, and a series of time buckets (hours of a day, days of a
week or month) for charts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, String, case, func, select

from menagerie.core.clock import utcnow
from menagerie.core.ids import new_id
from menagerie.core.llm.tables import UsageRow
from menagerie.storage.batches import BatchWriter
from menagerie.storage.database import Database

Period = Literal["day", "week", "month"]
PERIODS: dict[str, timedelta] = {
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
}
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# each period's chart: the bucket's length and how many buckets, the newest holding `now`
SERIES: dict[str, tuple[timedelta, int]] = {"day": (HOUR, 24), "week": (DAY, 7), "month": (DAY, 30)}
FLUSH_INTERVAL_S = 0.2
FLUSH_BATCH = 200
MAX_QUEUED = 100_000  # while the database is away; past it the oldest entries are dropped


@dataclass(frozen=True, slots=True)
class UsageRecord:
    tenant_id: str
    user_id: str | None
    model: str
    provider: str
    input_tokens: int
    output_tokens: int
    cost: float
    latency_ms: float
    outcome: Literal["ok", "error"]
    error_code: str | None = None
    created_at: datetime | None = None


Callback = Callable[[UsageRecord], None]


@dataclass(frozen=True, slots=True)
class ModelUsage:
    model: str
    provider: str
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    total_cost: float
    avg_latency_ms: float

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True, slots=True)
class UsageSummary:
    period: str
    since: datetime
    models: list[ModelUsage]

    @property
    def total_cost(self) -> float:
        return sum(m.total_cost for m in self.models)

    @property
    def total_requests(self) -> int:
        return sum(m.requests for m in self.models)


@dataclass(frozen=True, slots=True)
class UsageBucket:
    """The calls whose time falls in [start, start + the series' step), UTC."""

    start: datetime
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost: float

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class UsageSeries:
    period: str
    step: Literal["hour", "day"]
    buckets: list[UsageBucket]  # oldest first, every bucket present (empty ones as zeros)

    @property
    def total_tokens(self) -> int:
        return sum(b.total_tokens for b in self.buckets)

    @property
    def total_cost(self) -> float:
        return sum(b.cost for b in self.buckets)


def bucket_start(moment: datetime, step: timedelta) -> datetime:
    """The start of the UTC hour or day holding `moment`."""
    moment = moment.astimezone(UTC)
    if step == HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


class UsageLedger:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._rows = BatchWriter(
            database,
            UsageRow,
            name="usage-ledger",
            interval_s=FLUSH_INTERVAL_S,
            batch=FLUSH_BATCH,
            max_queued=MAX_QUEUED,
        )
        self._listeners: list[Callback] = []

    def on_record(self, listener: Callback) -> None:
        """Call `listener(record)` for every record, as it is queued (quota counters)."""
        self._listeners.append(listener)

    def record(self, entry: UsageRecord) -> None:
        self._rows.add(
            {
                "id": new_id("use"),
                "tenant_id": entry.tenant_id,
                "user_id": entry.user_id,
                "model": entry.model,
                "provider": entry.provider,
                "input_tokens": entry.input_tokens,
                "output_tokens": entry.output_tokens,
                "cost": entry.cost,
                "latency_ms": entry.latency_ms,
                "outcome": entry.outcome,
                "error_code": entry.error_code,
                "created_at": entry.created_at or utcnow(),
            }
        )
        for listener in self._listeners:
            listener(entry)

    async def start(self) -> None:
        await self._rows.start()

    async def stop(self) -> None:
        await self._rows.stop()

    async def flush(self) -> None:
        await self._rows.flush()

    async def summary(
        self, tenant_id: str, period: Period = "day", model: str | None = None
    ) -> UsageSummary:
        await self.flush()
        since = utcnow() - PERIODS[period]
        query = (
            select(
                UsageRow.model,
                UsageRow.provider,
                func.count(),
                func.sum(case((UsageRow.outcome == "error", 1), else_=0)),
                func.coalesce(func.sum(UsageRow.input_tokens), 0),
                func.coalesce(func.sum(UsageRow.output_tokens), 0),
                func.coalesce(func.sum(UsageRow.cost), 0.0),
                func.coalesce(func.avg(UsageRow.latency_ms), 0.0),
            )
            .where(UsageRow.tenant_id == tenant_id, UsageRow.created_at >= since)
            .group_by(UsageRow.model, UsageRow.provider)
            .order_by(func.count().desc(), UsageRow.model)
        )
        if model is not None:
            query = query.where(UsageRow.model == model)
        async with self.database.session() as session:
            rows = (await session.execute(query)).all()
        models = [
            ModelUsage(
                model=row[0],
                provider=row[1],
                requests=int(row[2]),
                errors=int(row[3] or 0),
                input_tokens=int(row[4]),
                output_tokens=int(row[5]),
                total_cost=float(row[6]),
                avg_latency_ms=float(row[7]),
            )
            for row in rows
        ]
        return UsageSummary(period, since, models)

    async def tokens_used(self, tenant_id: str, provider: str, since: datetime) -> int:
        await self.flush()
        query = select(
            func.coalesce(func.sum(UsageRow.input_tokens + UsageRow.output_tokens), 0)
        ).where(
            UsageRow.tenant_id == tenant_id,
            UsageRow.provider == provider,
            UsageRow.created_at >= since,
        )
        async with self.database.session() as session:
            return int((await session.execute(query)).scalar_one())

    async def series(
        self, tenant_id: str, period: Period = "day", now: datetime | None = None
    ) -> UsageSeries:
        """The tenant's calls in buckets: the 24 hours of a day (the current one last), or
        the 7 or 30 days of a week or month (today last), summed by the database."""
        await self.flush()
        step, count = SERIES[period]
        newest = bucket_start(now or utcnow(), step)
        first = newest - step * (count - 1)
        key = self._bucket_key(step)
        query = (
            select(
                key,
                func.count(),
                func.sum(case((UsageRow.outcome == "error", 1), else_=0)),
                func.coalesce(func.sum(UsageRow.input_tokens), 0),
                func.coalesce(func.sum(UsageRow.output_tokens), 0),
                func.coalesce(func.sum(UsageRow.cost), 0.0),
            )
            .where(UsageRow.tenant_id == tenant_id, UsageRow.created_at >= first)
            .group_by(key)
        )
        async with self.database.session() as session:
            rows = (await session.execute(query)).all()
        pattern = "%Y-%m-%d %H" if step == HOUR else "%Y-%m-%d"
        found: dict[datetime, UsageBucket] = {}
        for key_text, requests, errors, tokens_in, tokens_out, cost in rows:
            start = datetime.strptime(key_text, pattern).replace(tzinfo=UTC)
            found[start] = UsageBucket(
                start, int(requests), int(errors or 0), int(tokens_in), int(tokens_out), float(cost)
            )
        starts = [first + step * i for i in range(count)]
        return UsageSeries(
            period,
            "hour" if step == HOUR else "day",
            [found.get(start) or UsageBucket(start, 0, 0, 0, 0, 0.0) for start in starts],
        )

    def _bucket_key(self, step: timedelta) -> ColumnElement[str]:
        """The UTC hour (`2026-01-31 13`) or day (`2026-01-31`) of each call, as text."""
        if self.database.is_sqlite:  # stored as ISO text in UTC, which strftime reads
            pattern = "%Y-%m-%d %H" if step == HOUR else "%Y-%m-%d"
            return func.strftime(pattern, UsageRow.created_at, type_=String)
        pattern = "YYYY-MM-DD HH24" if step == HOUR else "YYYY-MM-DD"
        utc = func.timezone("UTC", UsageRow.created_at)
        return func.to_char(utc, pattern, type_=String)
