"""`maintenance_mode` as PodPlay's seed 000 spells it ("System Events"), from core's
`MaintenanceChanged`: `{maintenance_active, start_time, estimated_duration,
affected_services, message}`, plus `estimated_return` (the time the duration is counted to).

Maintenance concerns the whole server, so it goes to every client of the surface, not to one
tenant's: each connection joins `EVERYONE`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from menagerie.core.clock import iso
from menagerie.core.events.bus import Event
from menagerie.core.ops.maintenance import (
    MAINTENANCE_TOPIC,
    MaintenanceChanged,
    MaintenanceState,
)

EVENT_NAME = "maintenance_mode"
EVENT_NAMES = {MAINTENANCE_TOPIC: EVENT_NAME}
EVERYONE = "everyone"  # the room every connection of a surface joins


def podplay_payload(state: MaintenanceState) -> dict[str, Any]:
    return {
        "maintenance_active": state.active,
        "start_time": iso(state.started_at),
        "estimated_duration": _duration(state.started_at, state.estimated_return),
        "affected_services": list(state.affected_services),
        "message": state.message,
        "estimated_return": iso(state.estimated_return),
    }


def podplay(event: Event) -> dict[str, Any]:
    return podplay_payload(MaintenanceChanged.from_payload(event.payload).state)


def _duration(start: datetime | None, end: datetime | None) -> str | None:
    if start is None or end is None:
        return None
    minutes = max(round((end - start).total_seconds() / 60), 0)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{hours} hour" + ("s" if hours != 1 else "")] if hours else []
    if minutes or not hours:
        parts.append(f"{minutes} minute" + ("s" if minutes != 1 else ""))
    return " ".join(parts)  # the seed's "30 minutes"
