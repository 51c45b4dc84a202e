"""The events the MCP domain publishes: typed values, carried on the bus as plain JSON.

Core says what happened (a server's status changed, an installation progressed) in its own
terms; each surface in `realtime/` shapes the payload its clients expect. The bus carries
`to_payload()`, a JSON-able dict of the typed fields (times in ISO 8601), and `from_payload`
reads it back on the other side, on this replica or another.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import ClassVar, Literal

from menagerie.core.events.typed import TypedEvent as _Typed

STATUS_TOPIC = "mcp.server_status"
PROGRESS_TOPIC = "mcp.installation_progress"

ServerState = Literal[
    "installing", "installed", "starting", "running", "stopped", "offline", "failed", "uninstalled"
]
ProgressState = Literal["installing", "completed", "failed"]


@dataclasses.dataclass(frozen=True, slots=True)
class ServerStatusChanged(_Typed):
    """An installed server's status, as it changed (or as it was checked)."""

    topic: ClassVar[str] = STATUS_TOPIC

    tenant_id: str
    installation_id: str
    server_name: str
    status: ServerState
    checked_at: datetime  # its last health check, or when this status was recorded
    response_ms: float | None = None  # the last health check's round trip, when measured
    requests_handled: int = 0
    error_rate: float | None = None  # None: no session in this process has served it
    error: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class InstallationProgress(_Typed):
    """How far one installation has come."""

    topic: ClassVar[str] = PROGRESS_TOPIC

    tenant_id: str
    installation_id: str
    server_name: str
    progress: int  # percent
    step: str
    remaining_s: float  # estimated; 0 once finished
    state: ProgressState


CHANGED_TOPIC = "mcp.installation_changed"
Change = Literal["uninstalled", "stopped", "restarted", "reconfigured"]


@dataclasses.dataclass(frozen=True, slots=True)
class InstallationChanged(_Typed):
    """An installation was changed through one process (`origin`): the other processes drop
    their own session of that server (core/tools/peers.py)."""

    topic: ClassVar[str] = CHANGED_TOPIC

    tenant_id: str
    server_name: str
    change: Change
    origin: str
