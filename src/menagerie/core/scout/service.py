"""Scout projects: created with a workspace, planned and built as one run on the worker, and
deployed to this machine (`local`) or to Vercel.

A project's run (`scout.project`) logs a `plan` step (the agent loop's plan, or the template's
fixed one when only the offline model is available, plans.py) and then one step per plan step
(`step_1` …), each writing its files and running its commands in the project's workspace. A
resumed run skips the steps an earlier attempt finished. However the run ends, `_ended`
records the outcome and the measured step durations, which the next projects' estimates read
(progress.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from menagerie.core.agents.runtime import AgentRuntime
from menagerie.core.clock import utcnow
from menagerie.core.errors import Conflict, Invalid, NotFound
from menagerie.core.events import EventBus
from menagerie.core.identity.models import Principal
from menagerie.core.identity.oauth.connections import OAuthConnections
from menagerie.core.ids import new_id
from menagerie.core.llm.router import Router
from menagerie.core.paging import check_page
from menagerie.core.runs.models import JobKind, Run, RunContext
from menagerie.core.runs.service import Runs
from menagerie.core.sandboxes.models import SandboxRequest
from menagerie.core.sandboxes.service import SandboxService
from menagerie.core.scout import plans, progress
from menagerie.core.scout.builder import ScoutBuilder
from menagerie.core.scout.deploys import ScoutDeploys
from menagerie.core.scout.events import ProjectUpdated
from menagerie.core.scout.models import (
    PLATFORMS,
    Deployment,
    PlanStep,
    Project,
    ProjectView,
)
from menagerie.core.scout.tables import ScoutDeploymentRow, ScoutProjectRow
from menagerie.storage.database import Database

log = logging.getLogger(__name__)
JOB = "scout.project"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
WORKSPACE_KIND = "codespace"
HISTORY = 10  # finished projects of a template whose step durations make its estimates


def _project(row: ScoutProjectRow) -> Project:
    configuration = dict(row.configuration or {})
    return Project(
        id=row.id,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        name=row.name,
        description=row.description,
        template=row.template,
        features=tuple(row.features or ()),
        configuration=configuration,
        technologies=plans.technologies(row.template, configuration),
        workspace_id=row.workspace_id,
        status=row.status,  # type: ignore[arg-type]
        plan=tuple(PlanStep.of(step) for step in row.plan or ()),
        planned_by=row.planned_by,
        run_id=row.run_id,
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )


class ScoutService:
    def __init__(
        self,
        database: Database,
        events: EventBus,
        runs: Runs,
        sandboxes: SandboxService,
        agents: AgentRuntime,
        router: Router,
        oauth: OAuthConnections,
    ) -> None:
        self._db = database
        self._events = events
        self._runs = runs
        self._sandboxes = sandboxes
        self.builder = ScoutBuilder(sandboxes, agents, router)
        self.deploys = ScoutDeploys(
            database, events, sandboxes, oauth, ready=self.builder.running_workspace
        )
        runs.register(JobKind(JOB, self._execute, on_end=self._ended))

    # ---- projects ---------------------------------------------------------------------------

    async def create(
        self,
        principal: Principal,
        *,
        name: str,
        description: str = "",
        template: str | None = None,
        features: Sequence[str] = (),
        configuration: dict[str, str] | None = None,
        repository: dict[str, Any] | None = None,
    ) -> ProjectView:
        if not NAME.fullmatch(name):
            raise Invalid(
                "a project name is 1 to 100 letters, digits, '.', '_' or '-', starting with "
                "a letter or digit",
                field="name",
                received=name,
                expected=NAME.pattern,
            )
        chosen = plans.check_template(template)
        wanted = plans.check_features(list(features))
        config = dict(configuration or {})
        await self._refuse_taken(principal, name)
        sandbox = await self._sandboxes.create(
            principal, SandboxRequest(name=f"scout: {name}", template=chosen, kind=WORKSPACE_KIND)
        )
        now = utcnow()
        row = ScoutProjectRow(
            id=new_id("proj"),
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            name=name,
            description=description,
            template=chosen,
            features=list(wanted),
            configuration=config,
            repository=repository,
            workspace_id=sandbox.id,
            status="initializing",
            plan=[s.to_json() for s in plans.fixed_plan(name, description, chosen, wanted, config)],
            planned_by="template",
            durations={},
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._db.session() as session:
                session.add(row)
        except IntegrityError:  # the same name, created at the same moment
            await self._sandboxes.delete(principal, sandbox.id)
            raise self._taken(name) from None
        run = await self._runs.submit(principal, JOB, subject_id=row.id)
        async with self._db.session() as session:
            stored = await session.get(ScoutProjectRow, row.id)
            assert stored is not None
            stored.run_id = run.id
            project = _project(stored)
        view = await self._view(project)
        await self._publish(view, None, ["Project created", "Queued on the worker"])
        return view

    async def list(
        self,
        principal: Principal,
        *,
        states: Sequence[str] | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[list[ProjectView], int]:
        """The caller's projects, newest first, and how many match in all."""
        check_page(limit, offset)
        where = [
            ScoutProjectRow.tenant_id == principal.tenant_id,
            ScoutProjectRow.user_id == principal.user_id,
        ]
        if states is not None:
            where.append(ScoutProjectRow.status.in_(list(states)))
        async with self._db.session() as session:
            total = await session.scalar(
                select(func.count()).select_from(ScoutProjectRow).where(*where)
            )
            rows = (
                await session.scalars(
                    select(ScoutProjectRow)
                    .where(*where)
                    .order_by(ScoutProjectRow.created_at.desc(), ScoutProjectRow.id)
                    .limit(limit)
                    .offset(offset)
                )
            ).all()
            projects = [_project(row) for row in rows]
        typical = {t: await self._typical(t) for t in {p.template for p in projects}}
        return [await self._view(p, typical[p.template]) for p in projects], total or 0

    async def get(self, principal: Principal, project_id: str) -> ProjectView:
        async with self._db.session() as session:
            row = await session.get(ScoutProjectRow, project_id)
            if row is None or not self._owns(principal, row):
                raise self._not_found(project_id)
            project = _project(row)
        return await self._view(project)

    async def find(self, principal: Principal, name_or_id: str) -> ProjectView:
        """A project by its name (the status route's `{project_name}`) or else its id."""
        async with self._db.session() as session:
            row = await session.scalar(
                select(ScoutProjectRow).where(
                    ScoutProjectRow.tenant_id == principal.tenant_id,
                    ScoutProjectRow.user_id == principal.user_id,
                    ScoutProjectRow.name == name_or_id,
                )
            )
        if row is None:
            return await self.get(principal, name_or_id)
        return await self._view(_project(row))

    async def estimated_setup_s(self, template: str) -> float | None:
        """The mean total of the template's finished projects on this server; None before any."""
        typical = await self._typical(template)
        steps = plans.fixed_plan("x", "", template, (), {})
        if not all(step.name in typical for step in steps):
            return None
        return sum(typical[step.name] for step in steps)

    async def _refuse_taken(self, principal: Principal, name: str) -> None:
        async with self._db.session() as session:
            taken = await session.scalar(
                select(ScoutProjectRow.id).where(
                    ScoutProjectRow.tenant_id == principal.tenant_id,
                    ScoutProjectRow.user_id == principal.user_id,
                    ScoutProjectRow.name == name,
                )
            )
        if taken is not None:
            raise self._taken(name)

    @staticmethod
    def _taken(name: str) -> Conflict:
        return Conflict(
            f"a project named {name!r} already exists",
            reason="PROJECT_EXISTS",
            details={"field": "name", "received": name},
        )

    @staticmethod
    def _not_found(project: str) -> NotFound:
        return NotFound(f"project {project} not found", reason="PROJECT_NOT_FOUND")

    @staticmethod
    def _owns(principal: Principal, row: ScoutProjectRow | ScoutDeploymentRow) -> bool:
        return row.tenant_id == principal.tenant_id and row.user_id == principal.user_id

    async def _view(self, project: Project, typical: dict[str, float] | None = None) -> ProjectView:
        run = await self._runs.store.get(project.run_id) if project.run_id else None
        if typical is None:
            typical = await self._typical(project.template)
        return ProjectView(project, progress.measure(project.plan, run, typical, utcnow()))

    async def _typical(self, template: str) -> dict[str, float]:
        async with self._db.session() as session:
            history = (
                await session.scalars(
                    select(ScoutProjectRow.durations)
                    .where(
                        ScoutProjectRow.template == template,
                        ScoutProjectRow.status == "completed",
                    )
                    .order_by(ScoutProjectRow.finished_at.desc())
                    .limit(HISTORY)
                )
            ).all()
        return progress.typical_durations([h for h in history if h])

    # ---- the run ----------------------------------------------------------------------------

    async def _execute(self, context: RunContext) -> dict[str, Any]:
        run = context.run
        principal = run.principal
        assert run.subject_id is not None
        project = await self._load(run.subject_id)
        project = await self._update(project.id, status="building")
        done = run.completed_steps
        if "plan" not in done:
            await self._publish(await self._view(project), None, ["Planning"])
            async with context.step("plan"):
                plan, planned_by = await self.builder.plan(principal, project)
                project = await self._update(
                    project.id, plan=[s.to_json() for s in plan], planned_by=planned_by
                )
        for step in project.plan:
            if step.id in done:
                continue
            await self._publish(await self._view(project), step.name, [f"Starting {step.name}"])
            async with context.step(step.id):
                logs = await self.builder.perform(principal, project, step)
            view = await self._view(project)
            await context.progress(view.progress.percent)
            await self._publish(view, step.name, logs)
        return {"steps": len(project.plan), "planned_by": project.planned_by}

    async def _ended(self, run: Run) -> None:
        if run.subject_id is None:
            return
        try:
            project = await self._load(run.subject_id)
        except NotFound:
            return
        names = {step.id: step.name for step in project.plan}
        durations = {
            names[s.name]: s.duration_s
            for s in run.steps
            if s.status == "completed" and s.name in names and s.duration_s is not None
        }
        status = {"completed": "completed", "cancelled": "cancelled"}.get(run.status, "failed")
        project = await self._update(
            project.id,
            status=status,
            error=run.error if status != "completed" else None,
            durations=durations,
            finished_at=utcnow(),
        )
        words = {"completed": "Project built", "cancelled": "Stopped"}
        await self._publish(
            await self._view(project), None, [words.get(status, f"Failed: {run.error}")]
        )

    async def _load(self, project_id: str) -> Project:
        async with self._db.session() as session:
            row = await session.get(ScoutProjectRow, project_id)
            if row is None:
                raise self._not_found(project_id)
            return _project(row)

    async def _update(self, project_id: str, **values: Any) -> Project:
        async with self._db.session() as session:
            row = await session.get(ScoutProjectRow, project_id)
            if row is None:
                raise self._not_found(project_id)
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
            return _project(row)

    async def _publish(self, view: ProjectView, current: str | None, logs: list[str]) -> None:
        project, measured = view.project, view.progress
        active = next((s for s in measured.steps if s.id == measured.active_step_id), None)
        event = ProjectUpdated(
            tenant_id=project.tenant_id,
            user_id=project.user_id,
            project_id=project.id,
            name=project.name,
            status=project.status,
            progress=measured.percent,
            current_step=current or (active.name if active else None),
            estimated_completion=measured.estimated_completion,
            logs=tuple(logs),
            error=project.error,
        )
        await self._events.publish(ProjectUpdated.topic, event.to_payload())

    # ---- deployments ------------------------------------------------------------------------

    async def deploy(
        self,
        principal: Principal,
        project_id: str,
        *,
        platform: str,
        environment: str = "production",
        domain: str | None = None,
        variables: dict[str, str] | None = None,
    ) -> Deployment:
        view = await self.get(principal, project_id)
        project = view.project
        if platform not in PLATFORMS:
            raise Invalid(
                f"platform must be one of {', '.join(PLATFORMS)}",
                field="platform",
                received=platform,
                expected=" | ".join(PLATFORMS),
            )
        if project.status != "completed":
            raise Conflict(
                f"project {project.name} is {project.status}: only a built project deploys",
                reason="PROJECT_NOT_BUILT",
                details={"status": project.status},
            )
        return await self.deploys.deploy(
            principal, project, platform=platform, environment=environment, variables=variables
        )

    async def stop(self) -> None:
        await self.deploys.stop()
