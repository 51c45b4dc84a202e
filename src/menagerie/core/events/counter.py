"""How many events this process saw on the bus, by kind: a subscriber to every topic."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

from menagerie.core.events.bus import EventBus


class EventCounter:
    def __init__(self, events: EventBus) -> None:
        self._events = events
        self.by_kind: Counter[str] = Counter()  # the topic's first part: "mcp", "task" …
        self._task: asyncio.Task[None] | None = None

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())

    async def start(self) -> None:
        if self._task is None:
            subscription = await self._events.subscribe("*")
            self._task = asyncio.create_task(self._count(subscription), name="event-counter")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _count(self, subscription: object) -> None:
        async for event in subscription:  # type: ignore[attr-defined]
            self.by_kind[event.topic.split(".", 1)[0]] += 1
