"""The worker side of runs: claims runs, executes their jobs, beats for them, and repairs the
runs of workers that died.

A broker message wakes `take()`, which claims the best queued run from the database. While a
job runs, a heartbeat refreshes it every `heartbeat_s` and reads back whether it was asked to
stop (a stop reaches it within a heartbeat even where the event bus is this process's own)
or was handed to another worker. The reaper, in every process that executes runs, returns a
run whose heartbeat lapsed to the queue (its completed steps kept) or fails it with the
reason; it also re-kicks queued runs whose message may have been lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import NoOpTracer, Span, StatusCode, Tracer

from menagerie.core.clock import iso, utcnow
from menagerie.core.errors import MenagerieError
from menagerie.core.ids import new_id
from menagerie.core.ops.tracing import TENANT
from menagerie.core.runs.models import JobKind, Run, RunContext, Step
from menagerie.core.runs.store import RunStore

log = logging.getLogger(__name__)

Kick = Callable[[str], Awaitable[None]]
Ended = Callable[[Run], Awaitable[None]]
Transition = Callable[[str, str], None]
LOST_REASON = "WORKER_LOST"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{new_id('w', 6)}"


class Executor:
    def __init__(
        self,
        store: RunStore,
        kinds: dict[str, JobKind],
        kick: Kick,
        ended: Ended,
        transition: Transition,
        *,
        concurrency: int,
        heartbeat_s: float,
        lapse_s: float,
        tracer: Tracer | None = None,
    ) -> None:
        self.worker_id = worker_name()
        self._tracer: Tracer = tracer or NoOpTracer()
        self._store = store
        self._kinds = kinds
        self._kick = kick
        self._ended = ended
        self._transition = transition
        self._slots = asyncio.Semaphore(concurrency)
        self.concurrency = concurrency
        self._heartbeat_s = heartbeat_s
        self._lapse = timedelta(seconds=lapse_s)
        # run id -> (the job's task, why it is being stopped: "cancel", "lost", "shutdown")
        self._active: dict[str, asyncio.Task[Any]] = {}
        self._stopping: dict[str, str] = {}
        self._loops: list[asyncio.Task[None]] = []
        self.completed = 0
        self.failed = 0
        self.last_beat: float | None = None

    @property
    def active(self) -> int:
        return len(self._active)

    async def start(self, *, execute: bool) -> None:
        """The reaper runs wherever runs are kept; the heartbeat only where they execute."""
        self._loops.append(asyncio.create_task(self._reap_forever(), name="runs-reaper"))
        if execute:
            self.last_beat = time.monotonic()
            self._loops.append(asyncio.create_task(self._beat_forever(), name="runs-heartbeat"))

    async def stop(self) -> None:
        """Running jobs are stopped and their runs go back to the queue for another worker,
        not counted as an attempt."""
        for run_id, task in list(self._active.items()):
            self._stopping[run_id] = "shutdown"
            task.cancel()
        if self._active:
            await asyncio.wait(list(self._active.values()), timeout=10)
        for loop in self._loops:
            loop.cancel()
        for loop in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        self._loops = []

    def cancel_local(self, run_id: str, why: str = "cancel") -> bool:
        task = self._active.get(run_id)
        if task is None:
            return False
        self._stopping.setdefault(run_id, why)
        task.cancel()
        return True

    async def take(self) -> None:
        """One wake-up message: claim the best queued run, if any is left, and execute it."""
        async with self._slots:
            run = await self._store.claim(self.worker_id)
            if run is not None:
                self._transition(run.kind, "running")
                await self._execute(run)

    async def _execute(self, run: Run) -> None:
        kind = self._kinds.get(run.kind)
        if kind is None:
            error = f"UNKNOWN_JOB: no worker job is named {run.kind!r}"
            await self._end(run, "failed", error=error)
            return
        # the run as a span, current in the job's task: its steps, agent turns and tool calls
        # are its children
        span = self._tracer.start_span(
            f"run {run.kind}",
            attributes={
                "menagerie.run.id": run.id,
                "menagerie.run.kind": run.kind,
                "menagerie.run.attempt": run.attempt,
                "menagerie.worker.id": self.worker_id,
                TENANT: run.tenant_id,
            },
        )
        context = RunContext(run, self._reporter(run), self._stepper(run))
        with trace.use_span(span, end_on_exit=False):
            job = asyncio.create_task(self._job(kind, context), name=f"run-{run.id}")
        job.add_done_callback(lambda done: _end_span(span, done))
        self._active[run.id] = job
        try:
            await asyncio.wait({job})
        except asyncio.CancelledError:  # this process is shutting down
            self._stopping.setdefault(run.id, "shutdown")
            job.cancel()
            with contextlib.suppress(BaseException):
                await job
        finally:
            self._active.pop(run.id, None)
        why = self._stopping.pop(run.id, None)
        if job.cancelled():
            if why == "cancel":
                await self._end(run, "cancelled", error="CANCELLED: stopped on request")
            elif why == "shutdown" and await self._store.requeue(
                run.id, worker_id=self.worker_id, refund=True
            ):
                await self._kick(run.id)
            # "lost": the run is another worker's now; nothing of it is this worker's to write
            return
        error = job.exception()
        if error is None:
            await self._end(run, "completed", result=job.result())
        elif isinstance(error, TimeoutError):
            await self._end(run, "failed", error=f"TIMEOUT: the run took over {kind.timeout_s} s")
        elif isinstance(error, MenagerieError):
            await self._end(run, "failed", error=f"{error.reason}: {error.message}")
        else:
            log.error("run %s (%s) failed", run.id, run.kind, exc_info=error)
            await self._end(run, "failed", error="INTERNAL_ERROR: the run failed")

    async def _job(self, kind: JobKind, context: RunContext) -> Any:
        if kind.timeout_s is None:
            return await kind.handler(context)
        async with asyncio.timeout(kind.timeout_s):
            return await kind.handler(context)

    async def _end(
        self, run: Run, status: str, *, result: Any = None, error: str | None = None
    ) -> None:
        ended = await self._store.finish(
            run.id,
            self.worker_id,
            status,  # type: ignore[arg-type]
            result=result,
            error=error,
        )
        if ended is None:
            return  # no longer this worker's run
        if status == "completed":
            self.completed += 1
        else:
            self.failed += 1
        await self._ended(ended)

    def _reporter(self, run: Run) -> Callable[[int, str | None], Awaitable[None]]:
        async def report(percent: int, note: str | None) -> None:
            await self._store.report(run.id, self.worker_id, percent)

        return report

    def _stepper(self, run: Run) -> Callable[[str], Any]:
        @contextlib.asynccontextmanager
        async def step(name: str) -> AsyncIterator[None]:
            with self._tracer.start_as_current_span(
                f"run.step {name}",
                attributes={"menagerie.run.id": run.id, "menagerie.run.step": name},
            ):
                async with logged(name):
                    yield

        @contextlib.asynccontextmanager
        async def logged(name: str) -> AsyncIterator[None]:
            started = utcnow()
            begun = time.perf_counter()
            await self._store.log_step(
                run.id, self.worker_id, Step(name, "running", iso(started) or "")
            )
            outcome, detail = "completed", None
            try:
                yield
            except BaseException as error:
                outcome, detail = "failed", type(error).__name__
                raise
            finally:
                done = Step(
                    name,
                    outcome,  # type: ignore[arg-type]
                    iso(started) or "",
                    iso(utcnow()),
                    round(time.perf_counter() - begun, 3),
                    detail,
                )
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._store.log_step(run.id, self.worker_id, done))

        return step

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_s)
            try:
                verdicts = await self._store.beat(self.worker_id, list(self._active))
                self.last_beat = time.monotonic()
            except MenagerieError as error:
                log.warning("run heartbeat failed: %s", error.message)
                continue
            except Exception:
                log.exception("run heartbeat failed")
                continue
            for run_id, why in verdicts.items():
                self.cancel_local(run_id, why)

    async def _reap_forever(self) -> None:
        interval = max(0.5, min(5.0, self._lapse.total_seconds() / 3))
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reap()
            except MenagerieError as error:
                log.warning("run reaper: %s", error.message)
            except Exception:
                log.exception("run reaper failed")

    async def reap(self) -> None:
        for run in await self._store.lapsed(self._lapse):
            if run.worker_id == self.worker_id and run.id in self._active:
                continue  # this process's own: its heartbeat is late, not lost
            kind = self._kinds.get(run.kind)
            resumable = kind is not None and kind.resumable
            if resumable and run.attempt < run.max_attempts:
                if await self._store.requeue(run.id, worker_id=run.worker_id, refund=False):
                    log.warning("run %s lost its worker %s: queued again", run.id, run.worker_id)
                    self._transition(run.kind, "queued")
                    await self._kick(run.id)
                continue
            last = iso(run.heartbeat_at) or "never"
            ended = await self._store.finish(
                run.id,
                run.worker_id,
                "failed",
                error=f"{LOST_REASON}: its worker {run.worker_id} stopped answering "
                f"(last heartbeat {last}) after {run.attempt} of {run.max_attempts} attempts",
            )
            if ended is not None:
                self.failed += 1
                await self._ended(ended)
        for run_id in await self._store.stale_queued(self._lapse):
            await self._kick(run_id)


def _end_span(span: Span, job: asyncio.Task[Any]) -> None:
    if job.cancelled():
        span.set_attribute("menagerie.run.outcome", "cancelled")
    elif (error := job.exception()) is not None:
        span.record_exception(error)
        span.set_status(StatusCode.ERROR, type(error).__name__)
    span.end()
