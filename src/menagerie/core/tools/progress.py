"""Installation progress on the event bus: percent, current step and estimated seconds left."""

from __future__ import annotations

import contextlib
import logging
from time import monotonic

from menagerie.core.events.bus import EventBus
from menagerie.core.tools.events import InstallationProgress
from menagerie.core.tools.models import CatalogEntry

log = logging.getLogger(__name__)


def expected_install_s(entry: CatalogEntry) -> float:
    """About how long installing `entry` takes: a package download, or only a check."""
    return 45.0 if entry.packages else 3.0


class ProgressReporter:
    def __init__(
        self,
        events: EventBus,
        tenant_id: str,
        installation_id: str,
        server_name: str,
        *,
        expected_s: float,
    ) -> None:
        self._events = events
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
        event = InstallationProgress(
            tenant_id=self._tenant_id,
            installation_id=self._installation_id,
            server_name=self._server_name,
            progress=progress,
            step=step,
            remaining_s=round(left, 1),
            state="failed" if failed else ("completed" if progress >= 100 else "installing"),
        )
        with contextlib.suppress(Exception):  # progress is informative: never fail an install
            await self._events.publish(event.topic, event.to_payload())
