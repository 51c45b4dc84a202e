"""The bus's events as this process saw them: counted by kind, the latest kept in order.

A subscriber to every topic numbers each event it receives (per process) and keeps the
latest `keep` of them, so that a client following the stream can resume after the last
number it saw (`Last-Event-ID`). What a follower receives is its tenant's events only, and,
for a non-admin, only those that name no other user.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from collections.abc import AsyncIterator

from menagerie.core.events.bus import Event, EventBus
from menagerie.core.identity.models import Principal


class EventJournal:
    def __init__(self, events: EventBus, keep: int = 1000) -> None:
        self._events = events
        self.by_kind: Counter[str] = Counter()  # the topic's first part: "mcp", "task" …
        self._kept: deque[tuple[int, Event]] = deque(maxlen=keep)
        self._seq = 0
        self._arrived = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())

    async def start(self) -> None:
        if self._task is None:
            subscription = await self._events.subscribe("*")
            self._task = asyncio.create_task(self._record(subscription), name="event-journal")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def follow(
        self, principal: Principal, *, after: int | None = None, heartbeat_s: float = 15.0
    ) -> AsyncIterator[tuple[int, Event] | None]:
        """The caller's events with numbers past `after` (kept ones first, then as they
        arrive); None every `heartbeat_s` seconds without one, so that proxies keep the
        stream open."""
        seen = self._seq if after is None else after
        while True:
            ready = [(n, e) for n, e in self._kept if n > seen]
            if ready:
                for number, event in ready:
                    seen = number
                    if _visible(principal, event):
                        yield number, event
                continue
            async with self._arrived:
                try:
                    await asyncio.wait_for(self._arrived.wait(), heartbeat_s)
                except TimeoutError:
                    yield None

    async def _record(self, subscription: object) -> None:
        async for event in subscription:  # type: ignore[attr-defined]
            self.by_kind[event.topic.split(".", 1)[0]] += 1
            self._seq += 1
            self._kept.append((self._seq, event))
            async with self._arrived:
                self._arrived.notify_all()


def _visible(principal: Principal, event: Event) -> bool:
    payload = event.payload
    if payload.get("tenant_id") != principal.tenant_id:
        return False
    if payload.get("audience") == "admins" and not principal.is_admin:
        return False
    user = payload.get("user_id")
    return principal.is_admin or user is None or user == principal.user_id
