"""Building a Scout project in its workspace: the plan (the `architect` agent's, or the
template's fixed one when only the offline model answers) and each plan step's files and
commands, run in the project's sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from menagerie.core.agents.runtime import AgentRuntime, TurnRequest
from menagerie.core.errors import Conflict, MenagerieError
from menagerie.core.identity.models import Principal
from menagerie.core.llm.router import Router
from menagerie.core.sandboxes.models import FileWrite
from menagerie.core.sandboxes.service import SandboxService
from menagerie.core.scout import plans
from menagerie.core.scout.models import PlanStep, Project

log = logging.getLogger(__name__)
PLANNER = "architect"  # the agent whose loop makes a plan when a real model is configured
COMMAND_TIMEOUT_MS = 120_000
START_WAIT_S = 60.0
LOG_LINES = 5


class StepFailed(MenagerieError):
    reason = "STEP_FAILED"


def _tail(text: str) -> list[str]:
    return [line for line in text.strip().splitlines() if line.strip()][-LOG_LINES:]


class ScoutBuilder:
    def __init__(self, sandboxes: SandboxService, agents: AgentRuntime, router: Router) -> None:
        self._sandboxes = sandboxes
        self._agents = agents
        self._router = router

    async def plan(
        self, principal: Principal, project: Project
    ) -> tuple[tuple[PlanStep, ...], str]:
        args = (
            project.name,
            project.description,
            project.template,
            project.features,
            project.configuration,
        )
        fixed = plans.fixed_plan(*args)
        try:
            offline = self._router.primary().provider == "offline"
        except MenagerieError:
            offline = True
        if offline:
            return fixed, "template"
        request = TurnRequest(
            agent=PLANNER,
            message=plans.agent_prompt(*args, fixed),
            model_is_preference=True,
            session_metadata={"scout_project_id": project.id},
        )
        try:
            done = await self._agents.complete(principal, request)
            if done.provider == "offline":  # the real models failed over to the echo
                return fixed, "template"
            return plans.from_answer(done.message.content), f"agent:{done.model}"
        except (MenagerieError, ValueError) as error:
            log.info(
                "project %s: the agent's plan is unusable (%s); the template's", project.id, error
            )
            return fixed, "template"

    async def perform(self, principal: Principal, project: Project, step: PlanStep) -> list[str]:
        await self.running_workspace(principal, project.workspace_id)
        logs: list[str] = []
        files = [FileWrite(path, content) for path, content in step.files.items()]
        size = self._sandboxes.settings.max_files
        for start in range(0, len(files), size):
            written = await self._sandboxes.write_files(
                principal, project.workspace_id, files[start : start + size]
            )
            refused = [f"{r.path}: {r.error}" for r in written if not r.success]
            if refused:
                raise StepFailed(f"{step.name}: {'; '.join(refused)}")
        if files:
            logs.append(f"Wrote {len(files)} file{'s' if len(files) != 1 else ''}")
        for line in step.commands:
            result = await self._sandboxes.execute(
                principal, project.workspace_id, line, timeout_ms=COMMAND_TIMEOUT_MS
            )
            logs.append(f"$ {line}")
            logs += _tail(result.stdout)
            if not result.success:
                why = "timed out" if result.timed_out else f"exit code {result.exit_code}"
                detail = " ".join(_tail(result.stderr))
                raise StepFailed(f"{step.name}: `{line}` failed ({why}) {detail}".strip())
        return logs[-LOG_LINES * 2 :]

    async def running_workspace(self, principal: Principal, workspace_id: str) -> None:
        """Start the workspace if it is not running (created stopped, or idled out)."""
        async with asyncio.timeout(START_WAIT_S):
            while True:
                sandbox = await self._sandboxes.get(principal, workspace_id)
                if sandbox.status == "running":
                    return
                if sandbox.status == "terminated":
                    raise StepFailed("the project's workspace was deleted")
                if sandbox.status in ("pending", "stopped"):
                    # Conflict: started by someone else meanwhile, so look again
                    with contextlib.suppress(Conflict):
                        await self._sandboxes.start_sandbox(principal, workspace_id)
                        return
                await asyncio.sleep(0.1)
