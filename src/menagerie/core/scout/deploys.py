"""Scout deployments: a built project served from this machine (`local`, a loopback port that
reads the project's build output through the sandbox service) or uploaded to Vercel with the
tenant's connection; each recorded, and announced as `DeploymentUpdated` as it goes."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from menagerie.core.clock import utcnow
from menagerie.core.errors import Conflict, Invalid, MenagerieError, NotFound
from menagerie.core.events import EventBus
from menagerie.core.identity.models import Principal
from menagerie.core.identity.oauth.connections import OAuthConnections
from menagerie.core.ids import new_id
from menagerie.core.sandboxes.service import SandboxService
from menagerie.core.scout import plans, vercel
from menagerie.core.scout.events import DeploymentUpdated
from menagerie.core.scout.hosting import StaticSite
from menagerie.core.scout.models import Deployment, Project
from menagerie.core.scout.tables import ScoutDeploymentRow
from menagerie.storage.database import Database

log = logging.getLogger(__name__)
MAX_SERVED_BYTES = 16 * 1024 * 1024
MAX_UPLOAD_FILES = 1000


def _deployment(row: ScoutDeploymentRow) -> Deployment:
    return Deployment(
        id=row.id,
        project_id=row.project_id,
        platform=row.platform,
        environment=row.environment,
        status=row.status,  # type: ignore[arg-type]
        url=row.url,
        logs_url=row.logs_url,
        error=row.error,
        duration_s=row.duration_s,
        created_at=row.created_at,
    )


class ScoutDeploys:
    def __init__(
        self,
        database: Database,
        events: EventBus,
        sandboxes: SandboxService,
        oauth: OAuthConnections,
        *,
        ready: Callable[[Principal, str], Awaitable[None]],
    ) -> None:
        """`ready(principal, workspace_id)` starts the project's workspace if it is not
        running (a Vercel upload reads the build output there)."""
        self._db = database
        self._ready = ready
        self._events = events
        self._sandboxes = sandboxes
        self._oauth = oauth
        # this process's local deployments: project id -> (deployment id, its server)
        self._sites: dict[str, tuple[str, StaticSite]] = {}

    async def deploy(
        self,
        principal: Principal,
        project: Project,
        *,
        platform: str,
        environment: str,
        variables: dict[str, str] | None,
    ) -> Deployment:
        """A built project to `platform`, recorded and announced as it goes."""
        token = await self._oauth.access_token(principal, "vercel") if platform == "vercel" else ""
        began = time.perf_counter()
        now = utcnow()
        row = ScoutDeploymentRow(
            id=new_id("dep"),
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            project_id=project.id,
            platform=platform,
            environment=environment,
            status="deploying",
            created_at=now,
            updated_at=now,
        )
        async with self._db.session() as session:
            session.add(row)
        deployment = _deployment(row)
        await self._deployment_event(principal, deployment, 10, [f"Deploying to {platform}"])
        try:
            if platform == "local":
                values = await self._serve_locally(principal, project, deployment.id)
            else:
                values = await self._to_vercel(
                    principal, project, token, environment, variables or {}
                )
        except MenagerieError as error:
            deployment = await self._finish(deployment.id, status="failed", error=error.message)
            await self._deployment_event(principal, deployment, 100, [f"Failed: {error.message}"])
            raise
        values["duration_s"] = round(time.perf_counter() - began, 3)
        deployment = await self._finish(deployment.id, **values)
        logs = [f"Serving {deployment.url}"] if platform == "local" else ["Uploaded to Vercel"]
        done = 100 if deployment.status == "deployed" else 50
        await self._deployment_event(principal, deployment, done, logs)
        return deployment

    async def _serve_locally(
        self, principal: Principal, project: Project, deployment_id: str
    ) -> dict[str, Any]:
        workspace = project.workspace_id

        async def read(path: str) -> bytes | None:
            try:
                return await self._sandboxes.read_file(
                    principal, workspace, f"{plans.OUTPUT_DIR}/{path}", limit=MAX_SERVED_BYTES
                )
            except (NotFound, Invalid):
                return None

        if await read("index.html") is None:
            raise Conflict(
                f"project {project.name} has no {plans.OUTPUT_DIR}/index.html to serve",
                reason="NO_BUILD_OUTPUT",
            )
        await self._close_site(project.id)
        site = StaticSite(read)
        url = await site.start()
        self._sites[project.id] = (deployment_id, site)
        return {"status": "deployed", "url": url}

    async def _to_vercel(
        self,
        principal: Principal,
        project: Project,
        token: str,
        environment: str,
        variables: dict[str, str],
    ) -> dict[str, Any]:
        await self._ready(principal, project.workspace_id)
        listing = await self._sandboxes.execute(
            principal, project.workspace_id, f"find {plans.OUTPUT_DIR} -type f"
        )
        paths = [p for p in listing.stdout.splitlines() if p.strip()][:MAX_UPLOAD_FILES]
        files = {
            path.removeprefix(f"{plans.OUTPUT_DIR}/"): await self._sandboxes.read_file(
                principal, project.workspace_id, path, limit=MAX_SERVED_BYTES
            )
            for path in paths
        }
        submitted = await vercel.deploy(
            token,
            name=project.name.lower(),
            files=files,
            production=environment == "production",
            environment=variables,
        )
        return {
            "status": "deployed" if submitted.state == "READY" else "deploying",
            "url": submitted.url,
            "logs_url": submitted.inspector_url,
            "external_id": submitted.id,
        }

    async def _finish(self, deployment_id: str, **values: Any) -> Deployment:
        async with self._db.session() as session:
            row = await session.get(ScoutDeploymentRow, deployment_id)
            assert row is not None
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
            return _deployment(row)

    async def _deployment_event(
        self, principal: Principal, deployment: Deployment, percent: int, logs: list[str]
    ) -> None:
        event = DeploymentUpdated(
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            deployment_id=deployment.id,
            project_id=deployment.project_id,
            platform=deployment.platform,
            status=deployment.status,
            progress=percent,
            url=deployment.url,
            logs=tuple(logs),
        )
        await self._events.publish(DeploymentUpdated.topic, event.to_payload())

    async def _close_site(self, project_id: str) -> None:
        held = self._sites.pop(project_id, None)
        if held is None:
            return
        deployment_id, site = held
        await site.close()
        try:
            await self._finish(deployment_id, status="stopped")
        except Exception:  # the database is going away with the platform
            log.warning("local deployment %s stopped, not recorded", deployment_id)

    async def stop(self) -> None:
        """Local deployments end with the process that serves them."""
        for project_id in list(self._sites):
            await self._close_site(project_id)
