"""Orchestrations as core returns them, the tools their steps name, and their events."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

from menagerie.core.events.typed import TypedEvent
from menagerie.core.identity.models import Principal

StepStatus = Literal["pending", "running", "completed", "failed", "cancelled"]
Status = Literal["pending", "running", "completed", "failed", "cancelled"]
FINISHED: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
UPDATED_TOPIC = "orchestration.updated"


@dataclass(frozen=True, slots=True)
class StepRequest:
    """One step as a caller asks for it; `number` None takes its place in the list."""

    tool: str
    parameters: dict[str, Any] = field(default_factory=dict)
    number: int | None = None


@dataclass(frozen=True, slots=True)
class StepSpec:
    """A validated step: its tool exists and its parameters fit (normalised by the tool)."""

    number: int
    tool: str
    parameters: dict[str, Any]
    after: tuple[int, ...] = ()  # steps that must have completed before it starts


@dataclass(frozen=True, slots=True)
class StepState:
    number: int
    tool: str
    name: str  # the tool's display name ("Code Analysis")
    parameters: dict[str, Any]
    after: tuple[int, ...]
    status: StepStatus
    progress: int  # 0-100, as the tool reported it
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None  # measured once it ended
    result: Any
    error: str | None


@dataclass(frozen=True, slots=True)
class Orchestration:
    id: str
    tenant_id: str
    user_id: str
    run_id: str | None
    status: Status
    parallel: bool
    timeout_s: float
    steps: tuple[StepState, ...]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class StepProgress:
    number: int
    name: str
    tool: str
    status: StepStatus
    progress: int
    duration_s: float  # measured once ended; so far while running; 0 before it starts
    error: str | None
    result: Any = None  # the tool's result once it completed


@dataclass(frozen=True, slots=True)
class Progress:
    """An orchestration as `GET /api/heavy/progress` reads it, estimates included."""

    orchestration_id: str
    status: Status
    progress: float  # 0-100, the steps' mean
    current_step: int
    total_steps: int
    steps: tuple[StepProgress, ...]
    # seconds, from the measured durations of finished steps (this orchestration's, else
    # the caller's earlier ones of the same tool); None while nothing was measured
    estimated_time_remaining: float | None
    error: str | None


@dataclass(frozen=True, slots=True)
class ToolParameter:
    name: str
    type: str  # JSON Schema type: string | boolean | integer | number | object | array
    description: str
    required: bool
    enum: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class ToolDescription:
    name: str
    title: str  # a step's display name
    description: str
    category: str
    parameters: tuple[ToolParameter, ...]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """What a tool sees while it runs: whom for, its step, the results of the steps before."""

    principal: Principal
    parameters: dict[str, Any]
    step: int | None = None  # None: run on its own (`POST /api/heavy/tools/execute`)
    results: Mapping[int, Any] = field(default_factory=dict)
    progress: Callable[[int], Awaitable[None]] | None = None

    async def report(self, percent: int) -> None:
        if self.progress is not None:
            await self.progress(max(0, min(100, int(percent))))


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """A tool run on its own: its result and how long it took."""

    tool: str
    result: Any
    seconds: float
    success: bool
    error: str | None = None


@dataclass(frozen=True, slots=True)
class OrchestrationUpdated(TypedEvent):
    """A step or the whole changed: the progress as it now reads, for the owner only."""

    topic: ClassVar[str] = UPDATED_TOPIC

    tenant_id: str
    user_id: str
    orchestration_id: str
    status: str
    progress: float
    current_step: int
    total_steps: int
    steps: list[dict[str, Any]]
    estimated_time_remaining: float | None
    error: str | None
    changed_step: int | None  # the step whose change this is; None: the whole orchestration
    updated_at: datetime

    @classmethod
    def of(
        cls, orchestration: Orchestration, progress: Progress, changed: int | None, now: datetime
    ) -> OrchestrationUpdated:
        return cls(
            tenant_id=orchestration.tenant_id,
            user_id=orchestration.user_id,
            orchestration_id=orchestration.id,
            status=progress.status,
            progress=progress.progress,
            current_step=progress.current_step,
            total_steps=progress.total_steps,
            # results stay out: they may be large, and the progress route shows them
            steps=[
                {k: v for k, v in dataclasses.asdict(step).items() if k != "result"}
                for step in progress.steps
            ],
            estimated_time_remaining=progress.estimated_time_remaining,
            error=progress.error,
            changed_step=changed,
            updated_at=now,
        )
