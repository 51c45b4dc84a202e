"""What one process does to an installed server, the other processes hear of.

Each process (every replica, every worker) holds its own session of each MCP server it runs:
started at its start-up, or at the first call through it. When a server is uninstalled,
stopped, restarted or reconfigured through one process, that process acts on its own session
at once and says so on the bus; every other process then drops its session of that server, so
that its next call starts the server again from the stored installation (its new
configuration), or answers that it is stopped or gone, instead of serving a stale session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from menagerie.core.events.bus import EventBus, Subscription
from menagerie.core.ids import new_id
from menagerie.core.tools.events import CHANGED_TOPIC, Change, InstallationChanged
from menagerie.core.tools.supervisor import Supervisor

log = logging.getLogger(__name__)


class PeerSessions:
    def __init__(self, events: EventBus, supervisor: Supervisor) -> None:
        self._events = events
        self._supervisor = supervisor
        self.origin = new_id("proc", 12)  # this process, so that it ignores its own news
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            subscription = await self._events.subscribe(CHANGED_TOPIC)
            self._task = asyncio.create_task(self._follow(subscription), name="mcp-peers")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def tell(self, tenant_id: str, server_name: str, change: Change) -> None:
        """Say that this process changed the server; a bus outage only costs the others'
        sessions staying as they are until they restart."""
        event = InstallationChanged(tenant_id, server_name, change, self.origin)
        try:
            await self._events.publish(event.topic, event.to_payload())
        except Exception:
            log.warning("telling other processes that %s was %s failed", server_name, change)

    async def _follow(self, subscription: Subscription) -> None:
        async for event in subscription:
            try:
                heard = InstallationChanged.from_payload(event.payload)
                if heard.origin == self.origin:
                    continue
                async with self._supervisor.lock(heard.tenant_id, heard.server_name):
                    await self._supervisor.discard(heard.tenant_id, heard.server_name)
            except Exception:  # one unreadable event must not end the following
                log.exception("dropping a session after %s failed", event.topic)
