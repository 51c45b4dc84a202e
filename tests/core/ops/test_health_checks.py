"""The health checks under concurrency: checks running at once never fail each other."""

from __future__ import annotations

import asyncio

from menagerie.platform import Platform


async def test_concurrent_filesystem_checks_are_all_healthy(started: Platform) -> None:
    # they shared one probe file: one check removed it while another wrote it, and the
    # server answered 503 to a balancer under load (found by `make bench soak`)
    results = await asyncio.gather(*(started.health.check_filesystem() for _ in range(64)))
    assert all(result.healthy for result in results), [r.error for r in results if r.error]
    leftovers = list(started.settings.data_dir.glob(".health-*"))
    assert leftovers == []
