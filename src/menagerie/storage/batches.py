"""Rows written off the request path: `add()` queues a row, a writer task inserts batches.

`flush()` (and stopping) writes everything queued, so a reader that flushes first sees its
own rows. A batch that fails stays queued for the next flush; rows carry unique ids and the
insert skips ids already written, so a batch written twice (committed just before a
cancellation) is harmless. Past `max_queued` rows (the database away for long) the oldest are
dropped, and that is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from menagerie.storage.database import Database

log = logging.getLogger(__name__)


class BatchWriter:
    def __init__(
        self,
        database: Database,
        table: Any,
        *,
        name: str,
        interval_s: float = 0.2,
        batch: int = 200,
        max_queued: int = 100_000,
    ) -> None:
        self.database = database
        self._table = table
        self._name = name
        self._interval_s = interval_s
        self._batch = batch
        self._max_queued = max_queued
        self._queue: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._stopping = False
        self._lock = asyncio.Lock()

    def add(self, row: dict[str, Any]) -> None:
        self._queue.append(row)
        if len(self._queue) > self._max_queued:
            del self._queue[: len(self._queue) - self._max_queued]
            log.error("%s backlog over %d rows; oldest dropped", self._name, self._max_queued)
        if len(self._queue) >= self._batch:
            self._wake.set()

    async def start(self) -> None:
        if self._writer is None:
            self._stopping = False
            self._writer = asyncio.create_task(self._write_loop(), name=self._name)

    async def stop(self) -> None:
        if self._writer is not None:
            # never cancel the writer: a write cancelled inside SQLite's worker thread can keep
            # its write lock, and the final flush below would then wait out the busy timeout
            self._stopping = True
            self._wake.set()
            await self._writer
            self._writer = None
        try:
            await self.flush()
        except Exception as exc:  # the database away or its disk full: stopping goes on
            log.error("%s: %d rows not written at stop: %s", self._name, len(self._queue), exc)

    async def flush(self) -> None:
        async with self._lock:
            while self._queue:
                batch, self._queue = self._queue[: self._batch], self._queue[self._batch :]
                try:
                    async with self.database.session() as session:
                        await session.execute(self._insert(), batch)
                except BaseException:
                    # keep the rows for the next flush rather than lose them
                    self._queue[:0] = batch
                    raise

    def _insert(self) -> Any:
        """An insert that skips rows already written (their ids are unique)."""
        if self.database.is_sqlite:
            return sqlite_insert(self._table).on_conflict_do_nothing(index_elements=["id"])
        return postgresql_insert(self._table).on_conflict_do_nothing(index_elements=["id"])

    async def _write_loop(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)
            self._wake.clear()
            if self._stopping:
                return
            try:
                await self.flush()
            except Exception:
                log.exception("%s flush failed; will retry", self._name)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 1.0)
