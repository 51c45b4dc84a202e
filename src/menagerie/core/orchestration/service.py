"""Heavy orchestrations: steps of tools, validated before anything runs, executed as one run
(job `orchestration`) on whichever worker claims it.

Steps run in their order, or all at once with `parallel` (a step that reads an earlier
step's result still waits for it); the whole is bounded by its `timeout`: the steps still
running then fail with TIMEOUT and those not started are cancelled. A step that fails
cancels the steps waiting for it, and the orchestration ends failed, naming it. Each change
is published as `OrchestrationUpdated`, with the progress as it then reads.

Estimates come from measured durations only: a step's expected time is the mean of its
tool's finished steps in this orchestration, else of the caller's latest earlier ones; with
nothing measured there is no estimate (None), never a made-up constant.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from menagerie.core.clock import utcnow
from menagerie.core.errors import Invalid, MenagerieError, NotFound, Timeout
from menagerie.core.events import EventBus
from menagerie.core.identity.models import Principal
from menagerie.core.orchestration import estimates
from menagerie.core.orchestration.models import (
    FINISHED,
    UPDATED_TOPIC,
    Orchestration,
    OrchestrationUpdated,
    Progress,
    StepRequest,
    StepSpec,
    StepState,
    ToolCall,
    ToolDescription,
    ToolOutcome,
)
from menagerie.core.orchestration.store import OrchestrationStore
from menagerie.core.orchestration.tools import Tool, ToolRegistry
from menagerie.core.runs.models import JobKind, Run, RunContext
from menagerie.core.runs.service import Runs
from menagerie.storage.database import Database

log = logging.getLogger(__name__)
JOB = "orchestration"
MAX_STEPS = 50
MAX_TIMEOUT_S = 24 * 3600.0
DEFAULT_TIMEOUT_S = 3600.0
EXECUTE_TIMEOUT_S = 300.0  # a tool run on its own, inside a request


def _field(index: int, name: str | None) -> str:
    return f"workflow[{index}].{name}" if name else f"workflow[{index}]"


def _renamed(error: Invalid, index: int, number: int, prefix: str) -> Invalid:
    """The tool's complaint, naming the step it is about."""
    inner = f"{prefix}.{error.field}" if error.field else prefix
    return Invalid(
        f"step {number}: {error.message}",
        field=_field(index, inner),
        received=error.received,
        expected=error.expected,
        missing=error.missing,
        reason=error.reason,
        details={"step": number},
    )


def _error_text(error: BaseException) -> str:
    if isinstance(error, MenagerieError):
        return f"{error.reason}: {error.message}"
    return f"TOOL_FAILED: {type(error).__name__}"


class Orchestrations:
    def __init__(
        self, database: Database, runs: Runs, events: EventBus, tools: ToolRegistry
    ) -> None:
        self._runs = runs
        self._events = events
        self.tools = tools
        titles = {d.name: d.title for d in tools.listed(None)}
        self.store = OrchestrationStore(database, titles)
        runs.register(JobKind(JOB, self._execute, on_end=self._ended))

    # -- asking -----------------------------------------------------------------------------

    def listed(self, principal: Principal | None) -> list[ToolDescription]:
        return self.tools.listed(principal)

    async def validate(
        self, principal: Principal, steps: Sequence[StepRequest], *, parallel: bool
    ) -> list[StepSpec]:
        """Every step's tool and parameters, checked before anything is kept or runs."""
        if not 1 <= len(steps) <= MAX_STEPS:
            raise Invalid(
                f"workflow must hold 1 to {MAX_STEPS} steps",
                field="workflow",
                received=len(steps),
                expected=f"1-{MAX_STEPS} steps",
            )
        numbers = [
            step.number if step.number is not None else i + 1 for i, step in enumerate(steps)
        ]
        for index, number in enumerate(numbers):
            if number < 1 or numbers.index(number) != index:
                raise Invalid(
                    f"step numbers must be distinct and positive: {number} is not",
                    field=_field(index, "step"),
                    received=number,
                    expected="a distinct positive integer",
                )
        order = sorted(range(len(steps)), key=lambda i: numbers[i])
        specs: list[StepSpec] = []
        for position, index in enumerate(order):
            step, number = steps[index], numbers[index]
            tool = await self.tools.named(principal, step.tool, field=_field(index, "tool"))
            earlier = [numbers[i] for i in order[:position]]
            try:
                parameters = await tool.prepare(
                    principal, dict(step.parameters), step=number, earlier=earlier
                )
            except Invalid as error:
                raise _renamed(error, index, number, "parameters") from None
            after = set(tool.after(parameters))
            if not parallel and earlier:
                after.add(earlier[-1])
            specs.append(StepSpec(number, tool.description.name, parameters, tuple(sorted(after))))
        return specs

    async def submit(
        self,
        principal: Principal,
        steps: Sequence[StepRequest],
        *,
        parallel: bool = False,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> tuple[Orchestration, float | None]:
        """Validated, kept and queued as one run; with the estimated duration (None while
        none of its tools was ever measured for the caller)."""
        if isinstance(timeout_s, bool) or not 0 < timeout_s <= MAX_TIMEOUT_S:
            raise Invalid(
                f"timeout must be more than 0 and at most {MAX_TIMEOUT_S:.0f} seconds",
                field="config.timeout",
                received=timeout_s,
                expected=f"0 < seconds <= {MAX_TIMEOUT_S:.0f}",
            )
        specs = await self.validate(principal, steps, parallel=parallel)
        orchestration_id = f"orch_{uuid.uuid4()}"
        created = await self.store.add(
            orchestration_id, principal, specs, parallel=parallel, timeout_s=float(timeout_s)
        )
        run = await self._runs.submit(principal, JOB, subject_id=orchestration_id)
        await self.store.update(orchestration_id, run_id=run.id)
        progress = await self._progress(created)
        await self._publish(created, progress, None)
        return created, progress.estimated_time_remaining

    async def progress(self, principal: Principal, orchestration_id: str | None = None) -> Progress:
        """The caller's orchestration (its latest, without an id); another's is not found."""
        if orchestration_id is not None:
            found = await self.store.get(orchestration_id, principal)
        else:
            latest = await self.store.latest(principal)
            if latest is None:
                raise NotFound(
                    "no orchestration has been started yet", reason="ORCHESTRATION_NOT_FOUND"
                )
            found = latest
        return await self._progress(found)

    async def execute_tool(
        self,
        principal: Principal,
        name: str,
        parameters: dict[str, Any],
        *,
        timeout_s: float = EXECUTE_TIMEOUT_S,
    ) -> ToolOutcome:
        """One tool on its own, now: bad parameters are refused; a failure is an outcome."""
        tool = await self.tools.named(principal, name, field="tool_name")
        try:
            prepared = await tool.prepare(principal, dict(parameters), step=None, earlier=[])
        except Invalid as error:
            field = f"parameters.{error.field}" if error.field else "parameters"
            raise Invalid(
                error.message,
                field=field,
                received=error.received,
                expected=error.expected,
                missing=error.missing,
                reason=error.reason,
            ) from None
        began = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s):
                result = await tool.run(ToolCall(principal, prepared))
        except TimeoutError:
            seconds = time.perf_counter() - began
            error = f"TIMEOUT: {name} ran past {timeout_s:.0f} s"
            return ToolOutcome(name, None, round(seconds, 3), False, error)
        except MenagerieError as error:
            seconds = time.perf_counter() - began
            return ToolOutcome(name, None, round(seconds, 3), False, _error_text(error))
        return ToolOutcome(name, result, round(time.perf_counter() - began, 3), True)

    # -- estimates --------------------------------------------------------------------------

    async def _progress(
        self, orchestration: Orchestration, now: datetime | None = None
    ) -> Progress:
        unmeasured = estimates.unmeasured(orchestration)
        history = (
            await self.store.durations(
                _owner(orchestration), unmeasured, before=orchestration.created_at
            )
            if unmeasured
            else {}
        )
        return estimates.progress_of(orchestration, history, now or utcnow())

    async def _publish(
        self, orchestration: Orchestration, progress: Progress, changed: int | None
    ) -> None:
        event = OrchestrationUpdated.of(orchestration, progress, changed, utcnow())
        await self._events.publish(UPDATED_TOPIC, event.to_payload())

    async def _changed(self, orchestration_id: str, changed: int | None) -> None:
        try:
            found = await self.store.get(orchestration_id)
            await self._publish(found, await self._progress(found), changed)
        except Exception:  # an event lost is not the run lost
            log.exception("publishing orchestration %s's update failed", orchestration_id)

    # -- the run ----------------------------------------------------------------------------

    async def _execute(self, context: RunContext) -> dict[str, Any]:
        run = context.run
        assert run.subject_id is not None
        orchestration_id = run.subject_id
        await self.store.begin(orchestration_id)
        orchestration = await self.store.get(orchestration_id)
        await self._changed(orchestration_id, None)
        principal = run.principal
        results = {s.number: s.result for s in orchestration.steps if s.status == "completed"}
        ended = {s.number: asyncio.Event() for s in orchestration.steps}
        status = {s.number: s.status for s in orchestration.steps}
        for number in results:
            ended[number].set()

        async def report(step: StepState, percent: int) -> None:
            await self.store.step(orchestration_id, step.number, progress=percent)
            await self._changed(orchestration_id, step.number)
            finished = sum(1 for s in status.values() if s in FINISHED)
            await context.progress(int(100 * finished / len(status)))

        async def one(step: StepState) -> None:
            if step.number in results:
                return
            try:
                for before in step.after:
                    await ended[before].wait()
                    if status[before] != "completed":
                        status[step.number] = "cancelled"
                        await self.store.step(
                            orchestration_id,
                            step.number,
                            status="cancelled",
                            error=f"CANCELLED: step {before} did not complete",
                        )
                        await self._changed(orchestration_id, step.number)
                        return
                await self._run_step(
                    context, principal, orchestration_id, step, results, report, status
                )
            finally:
                ended[step.number].set()

        deadline = orchestration.timeout_s
        if orchestration.started_at is not None:
            deadline -= (utcnow() - orchestration.started_at).total_seconds()
        try:
            async with asyncio.timeout(max(deadline, 0.001)):
                await asyncio.gather(*(one(step) for step in orchestration.steps))
        except TimeoutError:
            message = f"the orchestration ran past its timeout of {orchestration.timeout_s:g} s"
            now = utcnow()
            for number, state in status.items():
                if state == "running":  # also one whose start was not yet written
                    status[number] = "failed"
                    await self.store.step(
                        orchestration_id,
                        number,
                        status="failed",
                        error=f"TIMEOUT: {message}",
                        finished_at=now,
                    )
            await self.store.close(
                orchestration_id,
                running=("failed", f"TIMEOUT: {message}"),
                pending=("cancelled", f"CANCELLED: {message}"),
            )
            raise Timeout(message) from None
        failed = [n for n, s in sorted(status.items()) if s == "failed"]
        if failed:
            raise StepFailed(f"step {failed[0]} failed", details={"steps": failed})
        return {"orchestration_id": orchestration_id, "completed_steps": sorted(results)}

    async def _run_step(
        self,
        context: RunContext,
        principal: Principal,
        orchestration_id: str,
        step: StepState,
        results: dict[int, Any],
        report: Any,
        status: dict[int, str],
    ) -> None:
        tool: Tool = await self.tools.named(principal, step.tool)
        started = utcnow()
        began = time.perf_counter()
        status[step.number] = "running"
        await self.store.step(
            orchestration_id, step.number, status="running", started_at=started, progress=0
        )
        await self._changed(orchestration_id, step.number)

        async def progress(percent: int) -> None:
            await report(step, percent)

        call = ToolCall(principal, step.parameters, step.number, results, progress)
        outcome: dict[str, Any]
        try:
            async with context.step(f"{step.number}:{step.tool}"):
                result = await tool.run(call)
            results[step.number] = result
            outcome = {"status": "completed", "progress": 100, "result": result}
        except Exception as error:
            if not isinstance(error, MenagerieError):
                log.exception("step %s of %s failed", step.number, orchestration_id)
            outcome = {"status": "failed", "error": _error_text(error)}
        status[step.number] = outcome["status"]
        await self.store.step(
            orchestration_id,
            step.number,
            finished_at=utcnow(),
            duration_s=round(time.perf_counter() - began, 3),
            **outcome,
        )
        await self._changed(orchestration_id, step.number)
        finished = sum(1 for s in status.values() if s in FINISHED)
        await context.progress(int(100 * finished / len(status)))

    async def _ended(self, run: Run) -> None:
        """However the run ended (also by a lost worker), the orchestration says so."""
        if run.subject_id is None:
            return
        why = run.error or "CANCELLED: stopped"
        with contextlib.suppress(NotFound):
            await self.store.close(
                run.subject_id,
                running=("failed" if run.status == "failed" else "cancelled", why),
                pending=("cancelled", f"CANCELLED: {why}"),
            )
            await self.store.update(
                run.subject_id,
                status=run.status,
                error=None if run.status == "completed" else run.error,
                finished_at=run.finished_at or utcnow(),
            )
            await self._changed(run.subject_id, None)


class StepFailed(MenagerieError):
    reason = "STEP_FAILED"


def _owner(orchestration: Orchestration) -> Principal:
    return Principal(orchestration.tenant_id, orchestration.user_id, frozenset())
