"""The event bus contract shared by every backend."""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from menagerie.core.clock import utcnow

JsonObject = dict[str, Any]
# (topic, seconds from publish to delivery): told each time a subscriber takes an event
LagListener = Callable[[str, float], None]
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    topic: str
    payload: JsonObject
    published_at: str = field(default_factory=lambda: utcnow().isoformat())
    # the publisher's clock (epoch seconds), for the lag from publish to delivery
    published_ts: float = field(default_factory=time.time)


class Subscription:
    """Events for one subscriber, buffered up to `max_queue` (oldest dropped past that).

    A slow consumer must not stall publishers or other subscribers, so the queue is bounded
    and overflow drops the oldest event and counts it in `dropped`.
    """

    def __init__(
        self,
        patterns: tuple[str, ...],
        max_queue: int = 1000,
        *,
        on_delivery: LagListener | None = None,
    ) -> None:
        self.patterns = patterns
        self._on_delivery = on_delivery
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=max_queue)
        self.dropped = 0
        self.closed = False

    def matches(self, topic: str) -> bool:
        return any(fnmatch.fnmatchcase(topic, pattern) for pattern in self.patterns)

    def deliver(self, event: Event) -> None:
        if self.closed:
            return
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(event)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def get(self, within: float | None = None) -> Event | None:
        """The next event, or None once closed (or when `within` seconds pass)."""
        if self.closed and self._queue.empty():
            return None
        try:
            event = await asyncio.wait_for(self._queue.get(), within)
        except TimeoutError:
            return None
        if event is not None and self._on_delivery is not None:
            try:
                self._on_delivery(event.topic, time.time() - event.published_ts)
            except Exception:  # a listener's fault never stops the delivery
                log.exception("event bus delivery listener failed")
        return event

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            event = await self.get()
            if event is None:
                return
            yield event


class EventBus(ABC):
    """Publish JSON payloads on dotted topics; subscribe with glob patterns (`task.*`)."""

    name: str
    _on_delivery: LagListener | None = None

    def observe_lag(self, listener: LagListener) -> None:
        """Tell `listener` how long each event took from its publish to a subscriber taking
        it (subscriptions made from now on)."""
        self._on_delivery = listener

    def _subscription(self, patterns: tuple[str, ...]) -> Subscription:
        return Subscription(patterns or ("*",), on_delivery=self._on_delivery)

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    async def publish(self, topic: str, payload: JsonObject) -> None: ...

    @abstractmethod
    async def subscribe(self, *patterns: str) -> Subscription: ...

    @abstractmethod
    async def unsubscribe(self, subscription: Subscription) -> None: ...

    @abstractmethod
    async def ping(self) -> float:
        """Round-trip latency in seconds; raises `Unavailable` when the bus is down."""
