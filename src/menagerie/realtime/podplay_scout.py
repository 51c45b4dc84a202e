"""PodPlay's Scout socket.io payloads (seed 000 "Scout Agent Events"), shaped from core's typed
Scout events.

`project_update` carries `{project_id, status, progress, current_step, estimated_completion,
logs}`; `deployment_status` carries `{deployment_id, project_id, status, progress, url, logs}`.
Both concern one user's project, so they go to that user's clients only (`AUDIENCE`).
"""

from __future__ import annotations

from typing import Any

from menagerie.core.clock import iso
from menagerie.core.events.bus import Event
from menagerie.core.scout.events import (
    DEPLOYMENT_TOPIC,
    PROJECT_TOPIC,
    DeploymentUpdated,
    ProjectUpdated,
)
from menagerie.realtime.relay import AUDIENCE

EVENT_NAMES = {PROJECT_TOPIC: "project_update", DEPLOYMENT_TOPIC: "deployment_status"}


def project_update(event: ProjectUpdated) -> dict[str, Any]:
    return {
        "project_id": event.project_id,
        "status": event.status,
        "progress": event.progress,
        "current_step": event.current_step,
        "estimated_completion": iso(event.estimated_completion),
        "logs": list(event.logs),
        # Menagerie's additions
        "name": event.name,
        "error": event.error,
    }


def deployment_status(event: DeploymentUpdated) -> dict[str, Any]:
    return {
        "deployment_id": event.deployment_id,
        "project_id": event.project_id,
        "status": event.status,
        "progress": event.progress,
        "url": event.url,
        "logs": list(event.logs),
        "platform": event.platform,  # Menagerie's addition
    }


def shape(event: Event) -> dict[str, Any] | None:
    if event.topic == PROJECT_TOPIC:
        project = ProjectUpdated.from_payload(event.payload)
        return {**project_update(project), AUDIENCE: (project.tenant_id, project.user_id)}
    if event.topic == DEPLOYMENT_TOPIC:
        deployment = DeploymentUpdated.from_payload(event.payload)
        return {
            **deployment_status(deployment),
            AUDIENCE: (deployment.tenant_id, deployment.user_id),
        }
    return None
