"""What a managed model endpoint looks like to the rest of the program."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from menagerie.core.clock import iso

EndpointState = Literal["running", "sleeping", "starting", "stopping", "failed"]
ENDPOINT_STATES: tuple[EndpointState, ...] = (
    "running",
    "sleeping",
    "starting",
    "stopping",
    "failed",
)


@dataclass(frozen=True, slots=True)
class EndpointStatus:
    """One endpoint at one moment; `auto_sleep_in` is seconds left before the idle sleep."""

    name: str
    kind: str
    status: EndpointState
    url: str | None
    model: str
    last_activity: datetime | None
    wake_time: datetime | None
    sleep_time: datetime | None
    auto_sleep_in: float | None
    error: str | None = None

    def to_payload(self) -> dict[str, Any]:
        """A JSON-able form for the event bus (ISO times, like every other event)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "url": self.url,
            "model": self.model,
            "last_activity": iso(self.last_activity),
            "wake_time": iso(self.wake_time),
            "sleep_time": iso(self.sleep_time),
            "auto_sleep_in": self.auto_sleep_in,
            "error": self.error,
        }
