"""The events the sandbox domain publishes (PodPlay shapes them as `workspace_status` and
`terminal_output`)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, ClassVar

from menagerie.core.events.typed import TypedEvent

STATUS_TOPIC = "sandbox.status"
TERMINAL_TOPIC = "sandbox.terminal_output"


@dataclasses.dataclass(frozen=True, slots=True)
class SandboxStatusChanged(TypedEvent):
    """A sandbox moved on its lifecycle, or further along a start or stop."""

    topic: ClassVar[str] = STATUS_TOPIC

    tenant_id: str
    owner_id: str
    sandbox_id: str
    kind: str
    status: str
    progress: int  # percent of the current step sequence
    current_step: str
    logs: tuple[str, ...]  # what the steps so far said, oldest first
    at: datetime

    def to_payload(self) -> dict[str, Any]:
        return _with_user(TypedEvent.to_payload(self), self.owner_id)


@dataclasses.dataclass(frozen=True, slots=True)
class TerminalOutput(TypedEvent):
    """Output of a terminal session, as it arrived."""

    topic: ClassVar[str] = TERMINAL_TOPIC

    tenant_id: str
    owner_id: str
    sandbox_id: str
    session_id: str
    output: str
    output_type: str  # stdout | stderr | system
    at: datetime

    def to_payload(self) -> dict[str, Any]:
        return _with_user(TypedEvent.to_payload(self), self.owner_id)


def _with_user(payload: dict[str, Any], owner_id: str) -> dict[str, Any]:
    """The owner also as `user_id`, the name event streams filter on (the console keeps a
    user's events to that user and the tenant's admins); `from_payload` ignores it."""
    return {**payload, "user_id": owner_id}
