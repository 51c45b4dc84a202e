"""Bus events to socket.io rooms: core publishes on the bus, browsers hear it on socket.io.

Every replica receives every bus event (Redis pub/sub) and delivers it only to the sockets
connected to itself (`ignore_queue`), so a client hears each event once however many
replicas run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from menagerie.core.events.bus import Event, EventBus

log = logging.getLogger(__name__)


def tenant_room(tenant_id: str) -> str:
    return f"tenant:{tenant_id}"


def user_room(tenant_id: str, user_id: str) -> str:
    """One user's clients: events about what they own (their workspaces, their tasks)."""
    return f"user:{tenant_id}:{user_id}"


# a shaped payload names its audience under this key, (tenant id, user id), when only that
# user's clients may hear it; the surface's delivery takes it off before emitting
AUDIENCE = "_audience"


# (tenant id, event name, payload): hands one event to the tenant's clients of one surface
Deliver = Callable[[str, str, dict[str, Any]], Awaitable[None]]


class BusRelay:
    def __init__(
        self,
        events: EventBus,
        deliver: Deliver,
        routes: dict[str, str],
        *,
        shape: Callable[[Event], dict[str, Any] | None] | None = None,
    ) -> None:
        """`routes` maps a bus topic to the socket.io event name it is emitted as; `shape`
        turns a bus event (core's typed payload) into the surface's own payload, or None to
        drop it. Without it the payload goes out as it is, less its `tenant_id`. `deliver`
        reaches only this replica's clients: every replica relays every bus event."""
        self._events = events
        self._deliver = deliver
        self._routes = routes
        self._shape = shape
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            subscription = await self._events.subscribe(*self._routes)
            self._task = asyncio.create_task(self._relay(subscription), name="socketio-relay")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _relay(self, subscription: object) -> None:
        async for event in subscription:  # type: ignore[attr-defined]
            name = self._routes.get(event.topic)
            tenant = event.payload.get("tenant_id")
            if name is None or not isinstance(tenant, str):
                continue
            try:
                payload = self._payload(event)
            except Exception:  # a payload this shape cannot read: drop it, keep relaying
                log.exception("shaping %s for socket.io failed", event.topic)
                continue
            if payload is None:
                continue
            try:
                await self._deliver(tenant, name, payload)
            except Exception:
                log.exception("relaying %s to socket.io failed", event.topic)

    def _payload(self, event: Event) -> dict[str, Any] | None:
        if self._shape is not None:
            return self._shape(event)
        return {k: v for k, v in event.payload.items() if k != "tenant_id"}
