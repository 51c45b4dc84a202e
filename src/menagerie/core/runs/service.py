"""Runs: background work that outlives a request, executed by taskiq workers.

One process or many: the server kicks a run onto the broker its settings name (in memory by
default, where the server itself executes it), and whichever process executes runs
(`menagerie worker`, or the server) claims it from the database, which holds every run's
state, progress, step log, result and error. Stops travel on the event bus and are confirmed
by the heartbeat, so they reach a run on any worker within a heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from opentelemetry.trace import Tracer
from taskiq import AsyncBroker
from taskiq.receiver import Receiver

from menagerie.core.errors import Conflict, Invalid
from menagerie.core.events import EventBus
from menagerie.core.identity.models import Principal
from menagerie.core.runs.broker import broker_kind, create_broker
from menagerie.core.runs.executor import Executor
from menagerie.core.runs.models import FINISHED, PRIORITIES, JobKind, Run
from menagerie.core.runs.store import RunStore
from menagerie.storage.database import Database

log = logging.getLogger(__name__)
CANCEL_TOPIC = "runs.cancel"
TASK_NAME = "menagerie.runs.wake"


@dataclass(frozen=True, slots=True)
class RunsStatus:
    broker: str
    executing: bool
    worker_id: str
    concurrency: int
    active: int
    completed: int
    failed: int
    heartbeat_age_s: float | None


class Runs:
    def __init__(
        self,
        database: Database,
        events: EventBus,
        *,
        broker_url: str | None,
        broker_queue: str = "menagerie-runs",
        execute: bool,
        concurrency: int,
        heartbeat_s: float,
        lapse_s: float,
        max_attempts: int,
        tracer: Tracer | None = None,
    ) -> None:
        self.store = RunStore(database)
        self._events = events
        self.broker_kind = broker_kind(broker_url)
        # the in-memory broker delivers to this process only: it must execute what it kicks
        self.executing = execute or self.broker_kind == "memory"
        self._broker: AsyncBroker = create_broker(
            broker_url, concurrency=concurrency, queue=broker_queue
        )

        async def wake(run_id: str) -> None:  # taskiq decorates functions, not methods
            await self._on_wake(run_id)

        self._wake = self._broker.register_task(wake, task_name=TASK_NAME)
        self._kinds: dict[str, JobKind] = {}
        self._max_attempts = max_attempts
        self._listeners: list[Callable[[str, str], None]] = []
        self.executor = Executor(
            self.store,
            self._kinds,
            self._kick,
            self._ended,
            self._transition,
            concurrency=concurrency,
            heartbeat_s=heartbeat_s,
            lapse_s=lapse_s,
            tracer=tracer,
        )
        self._receiver_task: asyncio.Task[None] | None = None
        self._finish_listening = asyncio.Event()
        self._cancel_task: asyncio.Task[None] | None = None
        self._started = False

    def on_transition(self, listener: Callable[[str, str], None]) -> None:
        """`listener(kind, state)` as runs of a kind are queued, claimed and end (metrics)."""
        self._listeners.append(listener)

    def _transition(self, kind: str, state: str) -> None:
        for listener in self._listeners:
            try:
                listener(kind, state)
            except Exception:
                log.exception("a run transition listener failed")

    def register(self, kind: JobKind) -> None:
        """Every process registers the same kinds: any may execute a run or end a lost one."""
        self._kinds[kind.name] = kind

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._broker.is_worker_process = self.executing and self.broker_kind != "memory"
        await self._broker.startup()
        await self.executor.start(execute=self.executing)
        if not self.executing:
            return
        subscription = await self._events.subscribe(CANCEL_TOPIC)
        self._cancel_task = asyncio.create_task(self._listen_cancels(subscription))
        if self.broker_kind != "memory":
            receiver = Receiver(
                self._broker,
                max_async_tasks=self.executor.concurrency,
                run_startup=False,
                propagate_exceptions=False,
            )
            self._finish_listening.clear()
            self._receiver_task = asyncio.create_task(
                receiver.listen(self._finish_listening), name="runs-receiver"
            )
        else:
            # the in-memory broker's messages died with the last process: wake each queued run
            for run_id in await self.store.stale_queued(timedelta(0)):
                await self._kick(run_id)

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        if self._receiver_task is not None:
            self._finish_listening.set()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self._receiver_task), 2)
        await self.executor.stop()
        if self._receiver_task is not None:
            self._receiver_task.cancel()
            with contextlib.suppress(BaseException):
                await self._receiver_task
            self._receiver_task = None
        if self._cancel_task is not None:
            self._cancel_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cancel_task
            self._cancel_task = None
        await self._broker.shutdown()

    async def submit(
        self,
        principal: Principal,
        kind: str,
        *,
        subject_id: str | None = None,
        priority: str = "medium",
        arguments: dict[str, Any] | None = None,
    ) -> Run:
        if kind not in self._kinds:
            raise Invalid(f"no job is named {kind!r}", field="kind", reason="UNKNOWN_JOB")
        if priority not in PRIORITIES:
            raise Invalid(
                f"priority must be one of {', '.join(PRIORITIES)}",
                field="priority",
                received=priority,
            )
        run = await self.store.add(
            principal,
            kind=kind,
            subject_id=subject_id,
            priority=priority,
            arguments=arguments or {},
            max_attempts=self._max_attempts,
        )
        self._transition(kind, "queued")
        await self._kick(run.id)
        return run

    async def cancel(self, run_id: str, tenant_id: str | None = None) -> Run:
        """A queued run ends cancelled now; a running one is told to stop, wherever it runs."""
        run = await self.store.get(run_id, tenant_id)
        if run.status in FINISHED:
            raise Conflict(
                f"the run has already {run.status}",
                reason="RUN_FINISHED",
                details={"status": run.status},
            )
        if run.status == "queued":
            ended = await self.store.finish(
                run.id, None, "cancelled", error="CANCELLED: stopped on request", expect="queued"
            )
            if ended is not None:
                await self._ended(ended)
                return ended
        await self.store.request_cancel(run.id)
        if not self.executor.cancel_local(run.id):
            await self._events.publish(CANCEL_TOPIC, {"run_id": run.id})
        return await self.store.get(run.id)

    async def wait(self, run_id: str, timeout_s: float) -> Run:
        """Until the run has ended (tests, the CLI); polls, since it may end on any worker."""
        async with asyncio.timeout(timeout_s):
            while True:
                run = await self.store.get(run_id)
                if run.status in FINISHED:
                    return run
                await asyncio.sleep(0.05)

    def status(self) -> RunsStatus:
        beat = self.executor.last_beat
        return RunsStatus(
            broker=self.broker_kind,
            executing=self.executing,
            worker_id=self.executor.worker_id,
            concurrency=self.executor.concurrency,
            active=self.executor.active,
            completed=self.executor.completed,
            failed=self.executor.failed,
            heartbeat_age_s=None if beat is None else round(time.monotonic() - beat, 3),
        )

    async def _kick(self, run_id: str) -> None:
        try:
            await self._wake.kiq(run_id)
        except Exception:
            # the run is queued in the database: the reaper kicks it again
            log.exception("kicking run %s onto the %s broker failed", run_id, self.broker_kind)

    async def _on_wake(self, run_id: str) -> None:
        """The taskiq task every message names: the id is a hint, the claim picks the best."""
        if self.executing and self._started:
            await self.executor.take()

    async def _ended(self, run: Run) -> None:
        self._transition(run.kind, run.status)
        kind = self._kinds.get(run.kind)
        if kind is None or kind.on_end is None:
            return
        try:
            await kind.on_end(run)
        except Exception:
            log.exception("ending run %s (%s) failed", run.id, run.kind)

    async def _listen_cancels(self, subscription: Any) -> None:
        async for event in subscription:
            run_id = event.payload.get("run_id")
            if isinstance(run_id, str):
                self.executor.cancel_local(run_id)
