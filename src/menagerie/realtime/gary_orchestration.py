"""Crazy Gary's `orchestration_update` (seed 004 "WebSocket Support": "Heavy orchestration
progress update"), from core's `OrchestrationUpdated`, for the orchestration's owner only.

The payload is the orchestration as `GET /api/heavy/progress` shows it, with the step whose
change it is (`changed_step`, null for the whole) and when.
"""

from __future__ import annotations

from typing import Any

from menagerie.core.clock import iso
from menagerie.core.events.bus import Event
from menagerie.core.orchestration.models import UPDATED_TOPIC, OrchestrationUpdated
from menagerie.realtime.relay import AUDIENCE

EVENT_NAMES = {UPDATED_TOPIC: "orchestration_update"}


def orchestration_update(event: Event) -> dict[str, Any]:
    update = OrchestrationUpdated.from_payload(event.payload)
    return {
        "orchestration_id": update.orchestration_id,
        "status": update.status,
        "progress": update.progress,
        "current_step": update.current_step,
        "total_steps": update.total_steps,
        "steps": [
            {
                "step": step["number"],
                "name": step["name"],
                "tool": step["tool"],
                "status": step["status"],
                "progress": step["progress"],
                "duration": step["duration_s"],
                "error": step["error"],
            }
            for step in update.steps
        ],
        "estimated_time_remaining": update.estimated_time_remaining,
        "error": update.error,
        "changed_step": update.changed_step,
        "updated_at": iso(update.updated_at),
        AUDIENCE: (update.tenant_id, update.user_id),
    }
