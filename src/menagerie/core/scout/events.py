"""What Scout publishes on the bus: a project's progress and a deployment's, each for its
owner (PodPlay's `project_update` and `deployment_status`, realtime/podplay_scout.py)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import ClassVar

from menagerie.core.events.typed import TypedEvent

PROJECT_TOPIC = "scout.project"
DEPLOYMENT_TOPIC = "scout.deployment"


@dataclasses.dataclass(frozen=True, slots=True)
class ProjectUpdated(TypedEvent):
    topic: ClassVar[str] = PROJECT_TOPIC

    tenant_id: str
    user_id: str
    project_id: str
    name: str
    status: str  # initializing | building | completed | failed | cancelled
    progress: int
    current_step: str | None
    estimated_completion: datetime | None
    logs: tuple[str, ...]
    error: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class DeploymentUpdated(TypedEvent):
    topic: ClassVar[str] = DEPLOYMENT_TOPIC

    tenant_id: str
    user_id: str
    deployment_id: str
    project_id: str
    platform: str
    status: str  # deploying | deployed | failed | stopped
    progress: int
    url: str | None
    logs: tuple[str, ...]
