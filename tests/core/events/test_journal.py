"""The event journal: counted, numbered, followed per tenant and user, resumable."""

from __future__ import annotations

import asyncio

from menagerie.core.events.journal import EventJournal
from menagerie.core.events.memory import InProcessEventBus
from menagerie.core.identity.models import Principal


async def test_follow_is_the_callers_and_resumes() -> None:
    bus = InProcessEventBus()
    await bus.start()
    journal = EventJournal(bus, keep=10)
    await journal.start()
    try:
        admin = Principal("t1", "usr_admin", frozenset({"admin"}))
        ada = Principal("t1", "usr_ada", frozenset())
        for payload in (
            {"tenant_id": "t1", "task_id": "a", "user_id": "usr_ada"},
            {"tenant_id": "t1", "task_id": "b", "user_id": "usr_bob"},
            {"tenant_id": "t2", "task_id": "c"},
            {"tenant_id": "t1", "server": "fetch"},
        ):
            await bus.publish("task.created", payload)
        await asyncio.sleep(0.05)
        assert journal.total == 4
        assert journal.by_kind["task"] == 4

        async def first(principal: Principal, count: int, after: int | None = 0) -> list:
            seen = []
            async for entry in journal.follow(principal, after=after, heartbeat_s=0.05):
                if entry is None:
                    break
                seen.append((entry[0], entry[1].payload.get("task_id")))
                if len(seen) == count:
                    break
            return seen

        assert await first(admin, 3) == [(1, "a"), (2, "b"), (4, None)]
        assert await first(ada, 2) == [(1, "a"), (4, None)]  # not bob's
        assert await first(admin, 1, after=2) == [(4, None)]
        assert await first(admin, 1, after=None) == []  # from now on: a heartbeat first
    finally:
        await journal.stop()
        await bus.stop()
