"""The in-process event bus: the embedded default for a single server process."""

from __future__ import annotations

import time

from menagerie.core.events.bus import Event, EventBus, JsonObject, Subscription


class InProcessEventBus(EventBus):
    name = "in-process"

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        for subscription in self._subscriptions:
            subscription.close()
        self._subscriptions.clear()

    async def publish(self, topic: str, payload: JsonObject) -> None:
        event = Event(topic, payload)
        for subscription in list(self._subscriptions):
            if subscription.matches(topic):
                subscription.deliver(event)

    async def subscribe(self, *patterns: str) -> Subscription:
        subscription = self._subscription(patterns)
        self._subscriptions.append(subscription)
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        subscription.close()
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    async def ping(self) -> float:
        started = time.perf_counter()
        return time.perf_counter() - started
