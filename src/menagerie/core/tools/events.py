"""The events the MCP domain publishes: typed values, carried on the bus as plain JSON.

Core says what happened (a server's status changed, an installation progressed) in its own
terms; each surface in `realtime/` shapes the payload its clients expect. The bus carries
`to_payload()`, a JSON-able dict of the typed fields (times in ISO 8601), and `from_payload`
reads it back on the other side, on this replica or another.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, ClassVar, Literal, Self

from menagerie.core.clock import iso

STATUS_TOPIC = "mcp.server_status"
PROGRESS_TOPIC = "mcp.installation_progress"

ServerState = Literal[
    "installing", "installed", "starting", "running", "stopped", "offline", "failed", "uninstalled"
]
ProgressState = Literal["installing", "completed", "failed"]


class _Typed:
    """JSON payloads for frozen dataclasses whose fields are str, numbers, bools or datetimes."""

    __slots__ = ()
    topic: ClassVar[str]

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {}
        for item in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            payload[item.name] = iso(value) if isinstance(value, datetime) else value
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Self:
        values: dict[str, Any] = {}
        for item in dataclasses.fields(cls):  # type: ignore[arg-type]
            if item.name not in payload:
                continue  # a field added later: its default stands in
            value = payload[item.name]
            if "datetime" in str(item.type) and isinstance(value, str):
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
            values[item.name] = value
        return cls(**values)


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
