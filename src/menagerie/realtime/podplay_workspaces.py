"""PodPlay's workspace socket.io payloads (seed 000 "Workspace Events"), shaped from core's
typed sandbox events.

`workspace_status` carries `{workspace_id, status, progress, current_step, logs}`;
`terminal_output` carries `{session_id, workspace_id, output, output_type, timestamp}`.
Both concern one user's workspace, so they go to that user's clients only: the shaped payload
names its audience under `AUDIENCE`, which the surface's delivery takes off before emitting.
"""

from __future__ import annotations

from typing import Any

from menagerie.core.clock import iso
from menagerie.core.events.bus import Event
from menagerie.core.sandboxes.events import (
    STATUS_TOPIC,
    TERMINAL_TOPIC,
    SandboxStatusChanged,
    TerminalOutput,
)
from menagerie.core.sandboxes.workspaces import KINDS
from menagerie.realtime.relay import AUDIENCE

EVENT_NAMES = {STATUS_TOPIC: "workspace_status", TERMINAL_TOPIC: "terminal_output"}

# core's lifecycle in PodPlay's words: a workspace never started is `stopped`, the default of
# the seed's `workspaces.status` column
STATUS_WORDS = {
    "pending": "stopped",
    "starting": "starting",
    "running": "running",
    "stopping": "stopping",
    "stopped": "stopped",
    "terminated": "deleted",
}


def status_word(status: str) -> str:
    return STATUS_WORDS.get(status, status)


def workspace_status(event: SandboxStatusChanged) -> dict[str, Any]:
    return {
        "workspace_id": event.sandbox_id,
        "status": status_word(event.status),
        "progress": event.progress,
        "current_step": event.current_step,
        "logs": list(event.logs),
    }


def terminal_output(event: TerminalOutput) -> dict[str, Any]:
    return {
        "session_id": event.session_id,
        "workspace_id": event.sandbox_id,
        "output": event.output,
        "output_type": event.output_type,
        "timestamp": iso(event.at),
    }


def shape(event: Event) -> dict[str, Any] | None:
    """The PodPlay payload of a sandbox event, with its audience; None for one PodPlay does
    not hear (a Metamorph sandbox's)."""
    if event.topic == STATUS_TOPIC:
        status = SandboxStatusChanged.from_payload(event.payload)
        if status.kind not in KINDS:
            return None
        return {**workspace_status(status), AUDIENCE: (status.tenant_id, status.owner_id)}
    if event.topic == TERMINAL_TOPIC:
        output = TerminalOutput.from_payload(event.payload)
        return {**terminal_output(output), AUDIENCE: (output.tenant_id, output.owner_id)}
    return None
