"""Crazy Gary's `task_update` (seed 004 "WebSocket Support": "Task status or progress
changed"), from core's `TaskUpdated`, for the task's owner only.

The seed's example reads `data.task_id` and `data.progress`; the rest is the task as
`GET /api/tasks/{id}` shows it (status, title, error, updated_at).
"""

from __future__ import annotations

from typing import Any

from menagerie.core.clock import iso
from menagerie.core.events.bus import Event
from menagerie.core.runs.agent_tasks import TASK_TOPICS, TaskUpdated
from menagerie.realtime.relay import AUDIENCE

EVENT_NAMES = {topic: "task_update" for topic in TASK_TOPICS.values()}


def task_update(event: Event) -> dict[str, Any]:
    update = TaskUpdated.from_payload(event.payload)
    return {
        "task_id": update.task_id,
        "status": update.status,
        "progress": update.progress,
        "title": update.title,
        "error": update.error,
        "updated_at": iso(update.updated_at),
        AUDIENCE: (update.tenant_id, update.user_id),
    }
