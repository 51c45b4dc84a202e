"""The event bus: `publish(topic, payload)` and `subscribe(pattern)`.

In-process by default; Redis pub/sub when a Redis URL is configured, so that every replica
sees every event. Realtime transports (socket.io, WebSockets, SSE) are its consumers.
"""

from menagerie.core.events.bus import Event, EventBus, Subscription
from menagerie.core.events.memory import InProcessEventBus
from menagerie.core.events.redis import RedisEventBus


def create_event_bus(redis_url: str | None) -> EventBus:
    # the server's bus: a Redis outage must not fail the requests whose events it carries
    return RedisEventBus(redis_url, fail_open=True) if redis_url else InProcessEventBus()


__all__ = [
    "Event",
    "EventBus",
    "InProcessEventBus",
    "RedisEventBus",
    "Subscription",
    "create_event_bus",
]
