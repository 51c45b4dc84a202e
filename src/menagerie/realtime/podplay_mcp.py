"""PodPlay's MCP socket.io payloads (seed 000 "MCP Events"), shaped from core's typed events.

`mcp_server_status` carries `{servers: [{name, status, last_check, response_time,
health_score}]}` (`error_message` instead of the numbers for a server that is down);
`mcp_installation_progress` carries `{installation_id, server_name, progress, current_step,
estimated_remaining}`.
"""

from __future__ import annotations

from typing import Any

from menagerie.core.clock import iso
from menagerie.core.events.bus import Event
from menagerie.core.tools.events import (
    PROGRESS_TOPIC,
    STATUS_TOPIC,
    InstallationProgress,
    ServerStatusChanged,
)

EVENT_NAMES = {STATUS_TOPIC: "mcp_server_status", PROGRESS_TOPIC: "mcp_installation_progress"}


def remaining_text(seconds: float) -> str:
    """`150` -> `2m 30s`, the seed's way of writing a duration left."""
    seconds = max(0, round(seconds))
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes}m {seconds}s" if minutes else f"{seconds}s"


def server_status(event: ServerStatusChanged) -> dict[str, Any]:
    """One server of `mcp_server_status`; PodPlay calls a running server `online`."""
    server: dict[str, Any] = {
        "name": event.server_name,
        "status": "online" if event.status == "running" else event.status,
        "last_check": iso(event.checked_at),
    }
    if event.response_ms is not None:
        server["response_time"] = event.response_ms  # milliseconds
    if event.error_rate is not None:
        server["health_score"] = round(1 - event.error_rate, 4)
    if event.error and event.status != "running":
        server["error_message"] = event.error
    return server


def installation_progress(event: InstallationProgress) -> dict[str, Any]:
    return {
        "installation_id": event.installation_id,
        "server_name": event.server_name,
        "progress": event.progress,
        "current_step": event.step,
        "estimated_remaining": remaining_text(event.remaining_s),
        "status": event.state,
    }


def shape(event: Event) -> dict[str, Any] | None:
    """The PodPlay payload of a bus event, or None for a topic PodPlay does not hear."""
    if event.topic == STATUS_TOPIC:
        return {"servers": [server_status(ServerStatusChanged.from_payload(event.payload))]}
    if event.topic == PROGRESS_TOPIC:
        return installation_progress(InstallationProgress.from_payload(event.payload))
    return None
