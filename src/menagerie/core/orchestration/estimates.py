"""An orchestration's progress and time remaining, from measured durations only.

A step's expected duration is the mean of the same tool's finished steps in this
orchestration, else of the caller's earlier orchestrations (`history`); with neither, its
estimate is unknown (None) and so is the total. Nothing here is a constant dressed as a
measurement.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from menagerie.core.orchestration.models import (
    FINISHED,
    Orchestration,
    Progress,
    StepProgress,
    StepState,
)


def unmeasured(orchestration: Orchestration) -> set[str]:
    """The tools of steps still to finish that no finished step here has measured."""
    measured = {s.tool for s in orchestration.steps if _measured(s)}
    return {
        s.tool for s in orchestration.steps if s.status not in FINISHED and s.tool not in measured
    }


def progress_of(orchestration: Orchestration, history: dict[str, float], now: datetime) -> Progress:
    """`history`: mean seconds per tool from the caller's earlier orchestrations."""
    steps = orchestration.steps
    measured: dict[str, list[float]] = {}
    for step in steps:
        if _measured(step):
            assert step.duration_s is not None
            measured.setdefault(step.tool, []).append(step.duration_s)
    expected = {tool: sum(v) / len(v) for tool, v in measured.items()} | {
        tool: seconds for tool, seconds in history.items() if tool not in measured
    }
    shown: list[StepProgress] = []
    remaining: list[float | None] = []
    for step in steps:
        elapsed = _elapsed(step, now)
        percent = step.progress
        mean = expected.get(step.tool)
        if step.status == "completed":
            percent = 100
        elif step.status == "running":
            if mean:
                percent = max(percent, min(99, int(100 * elapsed / mean)))
            remaining.append(None if mean is None else max(0.0, mean - elapsed))
        elif step.status == "pending":
            remaining.append(mean)
        shown.append(
            StepProgress(
                step.number,
                step.name,
                step.tool,
                step.status,
                percent,
                round(elapsed, 3),
                step.error,
                step.result if step.status == "completed" else None,
            )
        )
    overall = round(sum(s.progress for s in shown) / len(shown), 1) if shown else 0.0
    if orchestration.status in FINISHED:
        left: float | None = 0.0
        overall = 100.0 if orchestration.status == "completed" else overall
    elif any(r is None for r in remaining):
        left = None
    else:
        values = [r for r in remaining if r is not None]
        left = round(max(values, default=0.0) if orchestration.parallel else sum(values), 3)
    return Progress(
        orchestration_id=orchestration.id,
        status=orchestration.status,
        progress=overall,
        current_step=_current(steps),
        total_steps=len(steps),
        steps=tuple(shown),
        estimated_time_remaining=left,
        error=orchestration.error,
    )


def _measured(step: StepState) -> bool:
    return step.status == "completed" and step.duration_s is not None


def _elapsed(step: StepState, now: datetime) -> float:
    if step.duration_s is not None:
        return step.duration_s
    if step.status == "running" and step.started_at is not None:
        return max(0.0, (now - step.started_at).total_seconds())
    return 0.0


def _current(steps: Sequence[StepState]) -> int:
    """The first step running, else the first not yet run, else the last."""
    for wanted in ("running", "pending"):
        for step in steps:
            if step.status == wanted:
                return step.number
    return steps[-1].number if steps else 0
