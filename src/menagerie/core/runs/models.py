"""Runs as core publishes them: a run's record, the kinds of work a worker knows, and the
context a job sees while it runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from menagerie.core.identity.models import Principal

RunStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
FINISHED: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
# the seeds' priority words, lowest first; stored as their rank
PRIORITIES: tuple[str, ...] = ("low", "medium", "high", "critical")


def priority_rank(priority: str) -> int:
    return PRIORITIES.index(priority)


@dataclass(frozen=True, slots=True)
class Step:
    """One entry of a run's step log."""

    name: str
    status: Literal["running", "completed", "failed"]
    started_at: str
    finished_at: str | None = None
    duration_s: float | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Run:
    id: str
    tenant_id: str
    user_id: str
    kind: str
    subject_id: str | None
    priority: str
    status: RunStatus
    attempt: int
    max_attempts: int
    worker_id: str | None
    progress: int
    steps: tuple[Step, ...]
    arguments: dict[str, Any]
    result: Any
    error: str | None
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None

    @property
    def principal(self) -> Principal:
        """Whom the run acts for: its owner, with the roles they had when it was asked for."""
        roles = self.arguments.get("_roles", [])
        return Principal(self.tenant_id, self.user_id, frozenset(roles), via="run")

    @property
    def completed_steps(self) -> frozenset[str]:
        """Steps an earlier attempt finished: a resumed run skips them."""
        return frozenset(step.name for step in self.steps if step.status == "completed")


class RunContext:
    """What a job may do while it runs: report progress and log its steps."""

    def __init__(
        self,
        run: Run,
        report: Callable[[int, str | None], Awaitable[None]],
        step: Callable[[str], Any],
    ) -> None:
        self.run = run
        self._report = report
        self._step = step

    async def progress(self, percent: int, note: str | None = None) -> None:
        await self._report(max(0, min(100, int(percent))), note)

    def step(self, name: str) -> Any:
        """`async with ctx.step("plan"):` logs the step's start, end, duration and outcome."""
        return self._step(name)


Handler = Callable[[RunContext], Awaitable[Any]]
OnEnd = Callable[[Run], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JobKind:
    """A kind of work: its handler, what to do once a run of it ends however it ended (also
    when it ended because its worker died), and whether a lost run is tried again."""

    name: str
    handler: Handler
    on_end: OnEnd | None = None
    resumable: bool = True
    timeout_s: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
