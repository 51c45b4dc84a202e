"""The in-process worker: jobs run, failures are counted, and stopping lets running jobs end."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from menagerie.core.runs.worker import InProcessWorker


async def test_stop_lets_running_and_queued_jobs_finish() -> None:
    worker = InProcessWorker(concurrency=2)
    await worker.start()
    finished: list[int] = []

    def job(n: int) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await asyncio.sleep(0.05)
            finished.append(n)

        return run

    for n in range(4):
        worker.submit(f"job-{n}", job(n))
    await asyncio.sleep(0.01)  # two are running, two queued
    await worker.stop()
    assert sorted(finished) == [0, 1, 2, 3]
    assert worker.completed == 4
    assert not worker.running


async def test_stop_cancels_jobs_past_the_grace_period() -> None:
    worker = InProcessWorker(concurrency=1)
    await worker.start()
    cancelled = asyncio.Event()

    async def stuck() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    worker.submit("stuck", stuck)
    await asyncio.sleep(0.01)
    await asyncio.wait_for(worker.stop(grace_s=0.1), timeout=5)
    assert cancelled.is_set()
    assert worker.completed == 0


async def test_failed_job_is_counted_and_the_worker_goes_on() -> None:
    worker = InProcessWorker(concurrency=1)
    await worker.start()

    async def boom() -> None:
        raise RuntimeError("boom")

    async def fine() -> None:
        return None

    worker.submit("boom", boom)
    worker.submit("fine", fine)
    await worker.drain()
    assert (worker.failed, worker.completed) == (1, 1)
    await worker.stop()
