"""`system_alert` as each socket.io surface's seed spells it, from core's alert payload."""

from __future__ import annotations

from typing import Any

from menagerie.core.events.bus import Event

# PodPlay's `alert_type` (seed 000 shows "warning") for core's severities
_PODPLAY_TYPES = {"critical": "critical", "high": "warning", "medium": "warning", "low": "info"}


def podplay(event: Event) -> dict[str, Any]:
    """Seed 000 "System Events": `{alert_type, message, details, timestamp}`."""
    alert = event.payload
    return {
        "alert_type": _PODPLAY_TYPES.get(alert["severity"], "warning"),
        "message": alert["message"],
        "details": {
            "alert_id": alert["id"],
            "type": alert["type"],
            "severity": alert["severity"],
            "component": alert["component"],
        },
        "timestamp": alert["timestamp"],
    }


def gary(event: Event) -> dict[str, Any]:
    """Seed 004: the alert as `GET /api/monitoring/alerts` lists it."""
    return {k: v for k, v in event.payload.items() if k != "tenant_id"}
