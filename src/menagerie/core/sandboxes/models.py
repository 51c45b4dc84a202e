"""The typed values the sandbox service returns: sandboxes, exec results, files, usage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

# pending: created, never started; starting/stopping: on the way (PodPlay shows them);
# stopped: processes gone, files kept; terminated: deleted or expired, never starts again
SandboxStatus = Literal["pending", "starting", "running", "stopping", "stopped", "terminated"]
STATUSES: tuple[SandboxStatus, ...] = (
    "pending",
    "starting",
    "running",
    "stopping",
    "stopped",
    "terminated",
)
LIVE: frozenset[str] = frozenset({"pending", "starting", "running", "stopping", "stopped"})


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    runtime: str
    vcpus: int
    memory_mb: int
    timeout_minutes: int  # idle time after which a running sandbox is stopped
    environment: dict[str, str]
    working_directory: str  # where the workspace appears inside the sandbox
    disk_mb: int  # the largest file the sandbox may write
    network: bool
    allowed_commands: tuple[str, ...] | None  # None: any command (a terminal's workspace)
    packages: tuple[str, ...] = ()  # what the workspace asked for (PodPlay), as recorded


@dataclass(frozen=True, slots=True)
class AgentAttachment:
    session_id: str
    intensity: int
    coherence_floor: int
    enable_proactive_memory: bool
    attached_at: datetime


@dataclass(frozen=True, slots=True)
class Sandbox:
    id: str
    tenant_id: str
    owner_id: str
    name: str
    template: str
    kind: str  # "sandbox" (Metamorph) or a PodPlay workspace type: nixos | docker | codespace
    backend: str
    status: SandboxStatus
    config: SandboxConfig
    agent: AgentAttachment | None
    agent_defaults: dict[str, Any]  # the template's agent settings, before one is attached
    created_at: datetime
    started_at: datetime | None
    stopped_at: datetime | None
    last_activity_at: datetime | None
    total_runtime_seconds: float  # closed runs plus the current one
    executions: int
    error_message: str | None
    progress: int  # 0-100 of the current start/stop
    current_step: str | None


@dataclass(frozen=True, slots=True)
class Stopped:
    sandbox: Sandbox
    runtime_seconds: float  # of the run this stop ended


@dataclass(frozen=True, slots=True)
class Deleted:
    id: str
    deleted_at: datetime


@dataclass(frozen=True, slots=True)
class ExecResult:
    stdout: str
    stderr: str
    exit_code: int
    execution_time_ms: int
    timed_out: bool
    truncated: bool

    @property
    def success(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@dataclass(frozen=True, slots=True)
class FileWrite:
    path: str
    content: str


@dataclass(frozen=True, slots=True)
class FileResult:
    path: str
    success: bool
    error: str | None = None  # why this one file was refused


@dataclass(frozen=True, slots=True)
class TierLimits:
    max_sandboxes: int
    max_runtime_hours: float
    max_vcpus: int
    max_memory_mb: int
    max_timeout_minutes: int


@dataclass(frozen=True, slots=True)
class UsageReport:
    tier: str
    period_start: datetime
    period_end: datetime
    active_sandboxes: int
    total_sandboxes_created: int
    runtime_hours: float
    total_executions: int
    limits: TierLimits

    @property
    def remaining_sandboxes(self) -> int:
        return max(self.limits.max_sandboxes - self.active_sandboxes, 0)

    @property
    def remaining_runtime_hours(self) -> float:
        return round(max(self.limits.max_runtime_hours - self.runtime_hours, 0.0), 4)

    @property
    def limit_exceeded(self) -> bool:
        return (
            self.active_sandboxes > self.limits.max_sandboxes
            or self.runtime_hours >= self.limits.max_runtime_hours
        )


@dataclass(frozen=True, slots=True)
class SandboxRequest:
    """What a caller asks for; None takes the template's value."""

    name: str
    template: str | None = None
    kind: str = "sandbox"
    runtime: str | None = None
    vcpus: int | None = None
    memory_mb: int | None = None
    timeout_minutes: int | None = None
    disk_mb: int | None = None
    environment: dict[str, str] = field(default_factory=dict)
    working_directory: str | None = None
    packages: tuple[str, ...] = ()
