"""The Redis event bus: one pub/sub connection per process fans events out to local subscribers.

Every replica publishes to Redis and listens on one pattern subscription; local subscribers
are then served from memory, so a thousand socket.io clients cost one Redis connection.

Events are notifications, the database is the record: the server's bus (`fail_open`) does not
fail a request because Redis is away. While it is, a publish warns once and reaches this
replica's own subscribers only; the listener resubscribes as soon as Redis answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from menagerie.core.errors import Unavailable
from menagerie.core.events.bus import Event, EventBus, JsonObject, Subscription

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "menagerie:events:"


class RedisEventBus(EventBus):
    name = "redis"

    def __init__(self, url: str, *, reconnect_delay: float = 1.0, fail_open: bool = False) -> None:
        """`fail_open`: a publish while Redis is away reaches this process's subscribers and
        returns, instead of raising `Unavailable`."""
        self._url = url
        self._fail_open = fail_open
        self._unreachable = False  # a publish failed and none has succeeded since
        self._client: aioredis.Redis | None = None
        self._subscriptions: list[Subscription] = []
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._reconnect_delay = reconnect_delay

    async def start(self) -> None:
        if self._client is not None:
            return
        self._client = aioredis.Redis.from_url(
            self._url, socket_connect_timeout=5, health_check_interval=30
        )
        self._listener = asyncio.create_task(self._listen(), name="menagerie-redis-bus")
        # wait until the pattern subscription is in place so no publish after start is missed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout=5)

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        for subscription in self._subscriptions:
            subscription.close()
        self._subscriptions.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _listen(self) -> None:
        assert self._client is not None
        lost = False
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.psubscribe(CHANNEL_PREFIX + "*")
                self._ready.set()
                if lost:
                    log.warning("event bus: subscribed to Redis again")
                    lost = False
                async for message in pubsub.listen():
                    if message.get("type") != "pmessage":
                        continue
                    self._dispatch(message["channel"], message["data"])
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                raise
            except (RedisError, OSError) as exc:
                self._ready.clear()
                # once per outage, not once per retry
                level = logging.DEBUG if lost else logging.WARNING
                log.log(level, "event bus lost Redis (%s); reconnecting", type(exc).__name__)
                lost = True
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                await asyncio.sleep(self._reconnect_delay)

    def _dispatch(self, channel: bytes, data: bytes) -> None:
        topic = channel.decode()[len(CHANNEL_PREFIX) :]
        try:
            body = json.loads(data)
        except ValueError:
            log.warning("dropped a malformed event on %s", topic)
            return
        published_ts = body.get("ts")
        event = Event(
            topic,
            body.get("payload", {}),
            body.get("published_at", ""),
            published_ts if isinstance(published_ts, int | float) else time.time(),
        )
        self._deliver(event)

    def _deliver(self, event: Event) -> None:
        topic = event.topic
        for subscription in list(self._subscriptions):
            if subscription.matches(topic):
                subscription.deliver(event)

    async def publish(self, topic: str, payload: JsonObject) -> None:
        client = self._require_client()
        event = Event(topic, payload)
        message = json.dumps(
            {
                "payload": event.payload,
                "published_at": event.published_at,
                "ts": event.published_ts,
            }
        )
        try:
            await client.publish(CHANNEL_PREFIX + topic, message)
        except (RedisError, OSError) as exc:
            if not self._fail_open:
                raise Unavailable("event bus unavailable", service="event_bus") from exc
            if not self._unreachable:
                log.warning(
                    "event bus: Redis unreachable (%s); events reach this replica only until "
                    "it answers again",
                    exc,
                )
                self._unreachable = True
            self._deliver(event)
            return
        if self._unreachable:
            log.warning("event bus: Redis answers again; events reach every replica")
            self._unreachable = False

    async def subscribe(self, *patterns: str) -> Subscription:
        subscription = self._subscription(patterns)
        self._subscriptions.append(subscription)
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        subscription.close()
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    async def ping(self) -> float:
        client = self._require_client()
        started = time.perf_counter()
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            raise Unavailable("event bus unavailable", service="event_bus") from exc
        return time.perf_counter() - started

    def _require_client(self) -> aioredis.Redis:
        if self._client is None:
            raise Unavailable("event bus not started", service="event_bus")
        return self._client
