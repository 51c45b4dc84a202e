"""Deployments in the database: the rows the service reads and writes, as `Deployment`s."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from menagerie.core.clock import utcnow
from menagerie.core.deployments.models import ACTIVE, Deployment, DeploymentQuery
from menagerie.core.deployments.tables import DeploymentRow
from menagerie.core.errors import NotFound
from menagerie.core.identity.models import Principal
from menagerie.storage.database import Database


def _deployment(row: DeploymentRow) -> Deployment:
    return Deployment(
        id=row.id,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        nft_token_id=row.nft_token_id,
        provider=row.provider,  # type: ignore[arg-type]
        status=row.status,  # type: ignore[arg-type]
        resources=dict(row.resources or {}),
        endpoint_url=row.endpoint_url,
        port=row.port,
        pid=row.pid,
        restarts=row.restarts,
        message=row.message,
        created_at=row.created_at,
        updated_at=row.updated_at,
        stopped_at=row.stopped_at,
    )


class DeploymentStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def add(self, row: DeploymentRow) -> Deployment:
        async with self._database.session() as session:
            session.add(row)
        return _deployment(row)

    async def latest(self, tenant_id: str, nft: str) -> Deployment | None:
        statement = (
            select(DeploymentRow)
            .where(DeploymentRow.tenant_id == tenant_id, DeploymentRow.nft_token_id == nft)
            .order_by(DeploymentRow.created_at.desc(), DeploymentRow.id.desc())
            .limit(1)
        )
        async with self._database.session() as session:
            row = await session.scalar(statement)
            return None if row is None else _deployment(row)

    async def get(self, deployment_id: str) -> Deployment:
        async with self._database.session() as session:
            row = await session.get(DeploymentRow, deployment_id)
            if row is None:
                raise NotFound("deployment not found", reason="DEPLOYMENT_NOT_FOUND")
            return _deployment(row)

    async def update(self, deployment_id: str, **values: Any) -> Deployment:
        async with self._database.session() as session:
            row = await session.get(DeploymentRow, deployment_id)
            if row is None:
                raise NotFound("deployment not found", reason="DEPLOYMENT_NOT_FOUND")
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = utcnow()
            return _deployment(row)

    async def count(self, *, provider: str | None = None, statuses: Sequence[str] = ACTIVE) -> int:
        statement = select(func.count()).select_from(DeploymentRow)
        statement = statement.where(DeploymentRow.status.in_(statuses))
        if provider is not None:
            statement = statement.where(DeploymentRow.provider == provider)
        async with self._database.session() as session:
            return int(await session.scalar(statement) or 0)

    async def listed(self, principal: Principal, query: DeploymentQuery) -> list[Deployment]:
        """The tenant's deployments (a plain user's own), filtered and sorted as asked."""
        statement = select(DeploymentRow).where(DeploymentRow.tenant_id == principal.tenant_id)
        if not principal.is_admin:
            statement = statement.where(DeploymentRow.user_id == principal.user_id)
        if query.status is not None:
            statement = statement.where(DeploymentRow.status == query.status)
        if query.provider is not None:
            statement = statement.where(DeploymentRow.provider == query.provider)
        column = getattr(DeploymentRow, query.sort)
        statement = statement.order_by(
            column.desc() if query.descending else column.asc(), DeploymentRow.id
        )
        async with self._database.session() as session:
            return [_deployment(row) for row in (await session.scalars(statement)).all()]

    async def active_local(self) -> list[Deployment]:
        """Local deployments left deploying or running: a starting server resumes them."""
        statement = select(DeploymentRow).where(
            DeploymentRow.provider == "local", DeploymentRow.status.in_(ACTIVE)
        )
        async with self._database.session() as session:
            return [_deployment(row) for row in (await session.scalars(statement)).all()]
