"""The usage ledger: every upstream model call, with tokens, cost, latency and outcome.

Calls are recorded off the request path: `record()` queues the entry and a writer task
flushes batches, so a chat never waits on a ledger insert. `flush()` (and stopping) writes
everything queued; readers flush first, so a caller always sees its own calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from menagerie.core.clock import utcnow
from menagerie.core.ids import new_id
from menagerie.core.llm.tables import UsageRow
from menagerie.storage.database import Database

log = logging.getLogger(__name__)

Period = Literal["day", "week", "month"]
PERIODS: dict[str, timedelta] = {
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
}
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


class UsageLedger:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._queue: list[dict[str, object]] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._stopping = False
        self._lock = asyncio.Lock()
        self._listeners: list[Callback] = []

    def on_record(self, listener: Callback) -> None:
        """Call `listener(record)` for every record, as it is queued (quota counters)."""
        self._listeners.append(listener)

    def record(self, entry: UsageRecord) -> None:
        self._queue.append(
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
        if len(self._queue) > MAX_QUEUED:
            del self._queue[: len(self._queue) - MAX_QUEUED]
            log.error("usage ledger backlog over %d entries; oldest dropped", MAX_QUEUED)
        for listener in self._listeners:
            listener(entry)
        if len(self._queue) >= FLUSH_BATCH:
            self._wake.set()

    async def start(self) -> None:
        if self._writer is None:
            self._stopping = False
            self._writer = asyncio.create_task(self._write_loop(), name="usage-ledger")

    async def stop(self) -> None:
        if self._writer is not None:
            # never cancel the writer: a write cancelled inside SQLite's worker thread can keep
            # its write lock, and the final flush below would then wait out the busy timeout
            self._stopping = True
            self._wake.set()
            await self._writer
            self._writer = None
        await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            while self._queue:
                batch, self._queue = self._queue[:FLUSH_BATCH], self._queue[FLUSH_BATCH:]
                try:
                    async with self.database.session() as session:
                        await session.execute(self._insert(), batch)
                except BaseException:
                    # keep the entries for the next flush rather than lose them; a batch that
                    # was committed just before a cancellation is written again harmlessly
                    self._queue[:0] = batch
                    raise

    def _insert(self) -> Any:
        """An insert that skips rows already written (their ids are unique)."""
        if self.database.is_sqlite:
            return sqlite_insert(UsageRow).on_conflict_do_nothing(index_elements=["id"])
        return postgresql_insert(UsageRow).on_conflict_do_nothing(index_elements=["id"])

    async def _write_loop(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_INTERVAL_S)
            self._wake.clear()
            if self._stopping:
                return
            try:
                await self.flush()
            except Exception:
                log.exception("usage ledger flush failed; will retry")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 1.0)

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
