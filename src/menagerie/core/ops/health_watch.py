"""Health changes: the server's health checked on a schedule, published when it changes.

Each check takes a full health report (database and event bus round trips, the worker, the
filesystem, the sandbox backend, each configured model provider's state) and reduces it to
the overall status and one status per component. When that differs from the previous
check's, `HealthChanged` goes out on the bus; the socket.io surfaces deliver it (Crazy
Gary's `health_status`). The first check sets the baseline and publishes nothing. Health
describes the server, so the event is the operator's (its `tenant_id` is the default
tenant's) and goes to the operator's admins.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from datetime import datetime
from typing import ClassVar

from menagerie.core.events import EventBus
from menagerie.core.events.typed import TypedEvent
from menagerie.core.ops.health import HealthReport, HealthService

log = logging.getLogger(__name__)
HEALTH_TOPIC = "ops.health"


@dataclasses.dataclass(frozen=True, slots=True)
class HealthChanged(TypedEvent):
    """The overall health, or a component's, is not what the previous check found."""

    topic: ClassVar[str] = HEALTH_TOPIC

    tenant_id: str  # the operator's tenant: health concerns the whole server
    status: str  # healthy | degraded | unhealthy
    previous_status: str
    components: dict[str, str]  # name -> healthy | unhealthy, or a provider's state
    changed: list[str]  # the components whose status changed ("overall" for the whole)
    timestamp: datetime
    audience: str = "admins"  # the server's health is for the operator's admins alone


def summary(report: HealthReport) -> tuple[str, dict[str, str]]:
    components = {
        name: "healthy" if component.healthy else "unhealthy"
        for name, component in report.components.items()
    }
    for provider, state in report.provider_states.items():
        if state != "not_configured":
            components[provider] = state
    return report.status, components


class HealthWatcher:
    def __init__(
        self,
        health: HealthService,
        events: EventBus,
        *,
        operator_tenant: str,
        interval_s: float = 30.0,
    ) -> None:
        self._health = health
        self._events = events
        self._operator_tenant = operator_tenant
        self._interval_s = interval_s
        self._last: tuple[str, dict[str, str]] | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def check(self) -> HealthChanged | None:
        """One check: the change it found (published), or None."""
        async with self._lock:
            report = await self._health.report()
            status, components = summary(report)
            previous, self._last = self._last, (status, components)
            if previous is None:
                return None
            before_status, before = previous
            changed = (["overall"] if status != before_status else []) + sorted(
                name
                for name in set(components) | set(before)
                if components.get(name) != before.get(name)
            )
            if not changed:
                return None
            event = HealthChanged(
                tenant_id=self._operator_tenant,
                status=status,
                previous_status=before_status,
                components=components,
                changed=changed,
                timestamp=report.checked_at,
            )
            await self._events.publish(event.topic, event.to_payload())
            return event

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="health-watch")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:
                log.warning("checking health failed; will retry", exc_info=True)
            await asyncio.sleep(self._interval_s)
