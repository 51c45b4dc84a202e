"""Installation progress on the event bus: percent, current step and estimated time left."""

from __future__ import annotations

import contextlib
import logging
from time import monotonic

from menagerie.core.events.bus import EventBus

log = logging.getLogger(__name__)


def remaining_text(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes}m {seconds}s" if minutes else f"{seconds}s"


class ProgressReporter:
    def __init__(
        self,
        events: EventBus,
        topic: str,
        tenant_id: str,
        installation_id: str,
        server_name: str,
        *,
        expected_s: float,
    ) -> None:
        self._events = events
        self._topic = topic
        self._tenant_id = tenant_id
        self._installation_id = installation_id
        self._server_name = server_name
        self._expected_s = expected_s
        self._started = monotonic()
        self.history: list[tuple[int, str]] = []

    async def __call__(self, progress: int, step: str, *, failed: bool = False) -> None:
        elapsed = monotonic() - self._started
        if progress >= 100:
            left = 0.0
        elif progress > 10:
            # extrapolate from the work done so far once there is some to go by
            left = elapsed * (100 - progress) / progress
        else:
            left = max(self._expected_s - elapsed, 1.0)
        self.history.append((progress, step))
        payload = {
            "tenant_id": self._tenant_id,
            "installation_id": self._installation_id,
            "server_name": self._server_name,
            "progress": progress,
            "current_step": step,
            "estimated_remaining": remaining_text(left),
            "status": "failed" if failed else ("completed" if progress >= 100 else "installing"),
        }
        with contextlib.suppress(Exception):  # progress is informative: never fail an install
            await self._events.publish(self._topic, payload)
