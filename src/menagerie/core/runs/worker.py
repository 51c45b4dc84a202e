"""The in-process worker: runs background jobs inside the server with bounded concurrency.

It is the embedded default; a distributed queue replaces it for several machines. Health
reads its heartbeat, so a wedged event loop or a dead worker shows up as unhealthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from time import monotonic

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    mode: str
    running: bool
    concurrency: int
    active_jobs: int
    queued_jobs: int
    completed_jobs: int
    failed_jobs: int
    heartbeat_age_s: float | None


class InProcessWorker:
    def __init__(self, concurrency: int = 4, heartbeat_interval: float = 1.0) -> None:
        self.concurrency = concurrency
        # None is the signal for one runner to finish
        self._queue: asyncio.Queue[tuple[str, Job] | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._heartbeat_interval = heartbeat_interval
        self._last_beat: float | None = None
        self._active = 0
        self.completed = 0
        self.failed = 0

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not all(task.done() for task in self._tasks)

    async def start(self) -> None:
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self._run(), name=f"menagerie-worker-{n}")
            for n in range(self.concurrency)
        ]
        self._heartbeat_task = asyncio.create_task(self._beat(), name="menagerie-worker-beat")
        self._last_beat = monotonic()

    async def stop(self, grace_s: float = 5.0) -> None:
        """Let queued and running jobs finish for `grace_s`, then cancel what is left."""
        runners = list(self._tasks)
        for _ in runners:
            self._queue.put_nowait(None)
        if runners:
            await asyncio.wait(runners, timeout=grace_s)
        tasks = [*runners, *([self._heartbeat_task] if self._heartbeat_task else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self._heartbeat_task = None

    def submit(self, name: str, job: Job) -> None:
        self._queue.put_nowait((name, job))

    async def _beat(self) -> None:
        while True:
            self._last_beat = monotonic()
            await asyncio.sleep(self._heartbeat_interval)

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                self._queue.task_done()
                return
            name, job = item
            self._active += 1
            try:
                await job()
                self.completed += 1
            except asyncio.CancelledError:
                raise
            except Exception:
                self.failed += 1
                log.exception("background job %s failed", name)
            finally:
                self._active -= 1
                self._queue.task_done()

    async def drain(self) -> None:
        """Wait until every submitted job has finished."""
        await self._queue.join()

    def status(self) -> WorkerStatus:
        age = None if self._last_beat is None else round(monotonic() - self._last_beat, 3)
        return WorkerStatus(
            mode="in-process",
            running=self.running,
            concurrency=self.concurrency,
            active_jobs=self._active,
            queued_jobs=self._queue.qsize(),
            completed_jobs=self.completed,
            failed_jobs=self.failed,
            heartbeat_age_s=age,
        )
