"""How far a project's run is and how long it still needs, from measured durations only.

A step's expected duration is the mean of what that step (by name) took in the latest
finished projects of the same template on this server; a step never measured there is
expected to take the mean of the steps this run has finished; with neither, the remaining
time is unknown (None) and progress counts finished steps instead of seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from statistics import fmean

from menagerie.core.runs.models import Run, Step
from menagerie.core.scout.models import PlanStep, Progress, StepProgress


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def measure(
    plan: Sequence[PlanStep],
    run: Run | None,
    typical: Mapping[str, float],
    now: datetime,
) -> Progress:
    logged: dict[str, Step] = {step.name: step for step in run.steps} if run else {}
    measured = [s.duration_s for s in logged.values() if s.status == "completed" and s.duration_s]
    this_run = fmean(measured) if measured else None

    def expected(step: PlanStep) -> float | None:
        return typical.get(step.name, this_run)

    views: list[StepProgress] = []
    done_s = 0.0
    remaining: float | None = 0.0
    finished = 0
    active: str | None = None
    cursor = now  # when the next unfinished step should end
    for step in plan:
        entry = logged.get(step.id)
        started = _time(entry.started_at) if entry else None
        ended = _time(entry.finished_at) if entry else None
        estimate: datetime | None = None
        if entry is not None and entry.status in ("completed", "failed"):
            status = entry.status
            done_s += entry.duration_s or 0.0
            finished += 1
        else:
            status = "active" if entry is not None else "pending"
            if entry is not None:
                active = step.id
            spent = (now - started).total_seconds() if started else 0.0
            done_s += spent
            wanted = expected(step)
            if wanted is None or remaining is None:
                remaining = None
            else:
                left = max(wanted - spent, 0.0)
                remaining += left
                cursor += timedelta(seconds=left)
                estimate = cursor
        views.append(
            StepProgress(
                step.id,
                step.name,
                status,  # type: ignore[arg-type]
                started,
                ended,
                entry.duration_s if entry and ended else None,
                estimate,
            )
        )
    if remaining is not None and done_s + remaining > 0:
        percent = round(100 * done_s / (done_s + remaining))
    else:
        percent = round(100 * finished / len(plan)) if plan else 0
    if run is not None and run.status == "completed":
        percent, remaining = 100, 0.0
    begun = run.started_at if run else None
    until = run.finished_at if run and run.finished_at else now
    elapsed = (until - begun).total_seconds() if begun else 0.0
    if run is not None and run.finished_at is not None:
        remaining = 0.0 if run.status == "completed" else None
    return Progress(
        steps=tuple(views),
        active_step_id=active,
        percent=max(0, min(100, percent)),
        elapsed_s=max(elapsed, 0.0),
        remaining_s=remaining,
        estimated_completion=(
            run.finished_at
            if run is not None and run.status == "completed"
            else (now + timedelta(seconds=remaining) if remaining is not None else None)
        ),
    )


def typical_durations(history: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The mean seconds of each step name over earlier projects' measured durations."""
    seen: dict[str, list[float]] = {}
    for durations in history:
        for name, seconds in durations.items():
            seen.setdefault(name, []).append(float(seconds))
    return {name: fmean(values) for name, values in seen.items()}


def duration_text(seconds: float) -> str:
    """2h 15m, 3m 20s, 12s: the seed's way of writing a time."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"
