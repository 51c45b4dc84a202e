"""The background embedding of memories that have no vector yet.

Memories saved before the embeddings existed, while no embedder worked, or by another model
are embedded in batches (`MemoryService.backfill_embeddings`), one batch after another while
there are any, then again after `interval_s`. Progress is logged and kept for health (the
`memory` component). Search finds the memories not embedded yet by their words meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from menagerie.core.memory.service import MemoryService
from menagerie.core.memory.vectors import BackfillProgress

log = logging.getLogger(__name__)


class EmbeddingBackfill:
    def __init__(self, memory: MemoryService, *, interval_s: float = 30.0, batch: int = 64):
        self._memory = memory
        self.interval_s = interval_s
        self.batch = batch
        self.progress: BackfillProgress | None = None
        self.error: str | None = None
        self._task: asyncio.Task[None] | None = None

    def status(self) -> dict[str, Any]:
        """What health shows: the embedder, and how many memories have a vector and not."""
        progress = self.progress
        embedder = self._memory.embedder
        return {
            "embedder": getattr(embedder, "model", None) if embedder is not None else None,
            "search_mode": self._memory.search_mode if embedder is not None else "keyword",
            "embedded": progress.embedded if progress is not None else None,
            "pending": progress.pending if progress is not None else None,
            **({"backfill_error": self.error} if self.error else {}),
        }

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="memory-backfill")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        announced = False
        while True:
            try:
                progress = await self._memory.backfill_embeddings(self.batch)
                self.progress, self.error = progress, None
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a database away for a while: the next pass retries
                self.error = f"{type(exc).__name__}: {exc}"
                log.warning("memory embedding backfill failed, retrying later: %s", self.error)
                await asyncio.sleep(self.interval_s)
                continue
            if progress.done:
                if not announced:
                    log.info("memory embedding backfill: %d memories to embed", progress.pending)
                    announced = True
                log.debug(
                    "memory embedding backfill: %d embedded, %d pending",
                    progress.embedded,
                    progress.pending,
                )
                await asyncio.sleep(0)  # the next batch at once, other tasks first
                continue
            if announced:
                log.info(
                    "memory embedding backfill done: %d memories embedded (%s)",
                    progress.embedded,
                    progress.embedder,
                )
                announced = False
            await asyncio.sleep(self.interval_s)
