"""Incidents: what an operator opened about the service, per tenant, admins only.

An incident has a title, a description, a severity (low … critical), a status (open,
investigating, resolved), an assignee, and a timeline of updates: each a message with its
author and time, which may also move the status or hand the incident to another assignee.
Another tenant's incidents do not exist for a caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from menagerie.core.clock import utcnow
from menagerie.core.errors import Invalid, NotFound
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.ops.tables import IncidentRow, IncidentUpdateRow
from menagerie.core.paging import check_page
from menagerie.storage.database import Database

Severity = Literal["low", "medium", "high", "critical"]
IncidentStatus = Literal["open", "investigating", "resolved"]
SEVERITIES: tuple[str, ...] = get_args(Severity)
STATUSES: tuple[str, ...] = get_args(IncidentStatus)
MAX_TITLE = 200
MAX_DESCRIPTION = 10_000
MAX_UPDATE = 10_000


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    title: str
    description: str
    status: str
    severity: str
    assignee: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class IncidentUpdate:
    id: str
    incident_id: str
    timestamp: datetime
    author: str  # the user id of who wrote it
    message: str
    status: str | None  # the status it set, None: unchanged
    assignee: str | None  # the assignee it set, None: unchanged


def _update(row: IncidentUpdateRow) -> IncidentUpdate:
    return IncidentUpdate(
        row.id, row.incident_id, row.created_at, row.author, row.message, row.status, row.assignee
    )


def _incident(row: IncidentRow) -> Incident:
    return Incident(
        row.id,
        row.title,
        row.description,
        row.status,
        row.severity,
        row.assignee,
        row.created_at,
        row.updated_at,
    )


def _text(value: object, field: str, maximum: int, *, required: bool = True) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if (required and not text) or len(text) > maximum:
        raise Invalid(
            f"{field} must be text of 1 to {maximum} characters",
            field=field,
            received=value if isinstance(value, str | None) else "<not text>",
            expected=f"1-{maximum} characters",
            missing=value is None,
        )
    return text


def _choice(value: object, field: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise Invalid(
            f"{field} must be one of {', '.join(allowed)}",
            field=field,
            received=value if isinstance(value, str | None) else "<not text>",
            expected=" | ".join(allowed),
        )
    return str(value)


class IncidentService:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def open(
        self,
        principal: Principal,
        *,
        title: object,
        description: object = "",
        severity: object = "medium",
        assignee: object = None,
    ) -> Incident:
        principal.require_admin("opening an incident")
        now = utcnow()
        row = IncidentRow(
            id=new_id("inc", 20),
            tenant_id=principal.tenant_id,
            title=_text(title, "title", MAX_TITLE),
            description=_text(description, "description", MAX_DESCRIPTION, required=False),
            status="open",
            severity=_choice(severity, "severity", SEVERITIES),
            assignee=_text(assignee, "assignee", 320) if assignee is not None else None,
            created_by=principal.user_id,
            created_at=now,
            updated_at=now,
        )
        async with self._db.session() as session:
            session.add(row)
        return _incident(row)

    async def list(
        self,
        principal: Principal,
        *,
        status: str | None = None,
        severity: str | None = None,
        limit: int = 50,
    ) -> list[Incident]:
        """The tenant's incidents, newest first."""
        principal.require_admin("reading incidents")
        check_page(limit, 0, 1000)
        query = select(IncidentRow).where(IncidentRow.tenant_id == principal.tenant_id)
        if status is not None:
            query = query.where(IncidentRow.status == _choice(status, "status", STATUSES))
        if severity is not None:
            query = query.where(IncidentRow.severity == _choice(severity, "severity", SEVERITIES))
        query = query.order_by(IncidentRow.created_at.desc(), IncidentRow.id).limit(limit)
        async with self._db.session() as session:
            return [_incident(row) for row in (await session.scalars(query)).all()]

    async def update(
        self,
        principal: Principal,
        incident_id: str,
        *,
        message: object,
        status: object = None,
        assignee: object = None,
    ) -> IncidentUpdate:
        """Add an entry to the incident's timeline; a `status` or `assignee` given moves the
        incident there too (its `updated_at` is the entry's time)."""
        principal.require_admin("updating an incident")
        text = _text(message, "message", MAX_UPDATE)
        new_status = _choice(status, "status", STATUSES) if status is not None else None
        new_assignee = _text(assignee, "assignee", 320) if assignee is not None else None
        now = utcnow()
        async with self._db.session() as session:
            row = await self._row(session, principal, incident_id)
            if new_status is not None:
                row.status = new_status
            if new_assignee is not None:
                row.assignee = new_assignee
            row.updated_at = now
            entry = IncidentUpdateRow(
                id=new_id("incu", 20),
                incident_id=row.id,
                tenant_id=principal.tenant_id,
                created_at=now,
                author=principal.user_id,
                status=new_status,
                assignee=new_assignee,
                message=text,
            )
            session.add(entry)
        return _update(entry)

    async def get(self, principal: Principal, incident_id: str) -> Incident:
        principal.require_admin("reading incidents")
        async with self._db.session() as session:
            return _incident(await self._row(session, principal, incident_id))

    async def updates(self, principal: Principal, incident_id: str) -> list[IncidentUpdate]:
        """The incident's timeline, oldest first."""
        principal.require_admin("reading incidents")
        async with self._db.session() as session:
            row = await self._row(session, principal, incident_id)
            query = (
                select(IncidentUpdateRow)
                .where(IncidentUpdateRow.incident_id == row.id)
                .order_by(IncidentUpdateRow.created_at, IncidentUpdateRow.id)
            )
            return [_update(entry) for entry in (await session.scalars(query)).all()]

    @staticmethod
    async def _row(session: AsyncSession, principal: Principal, incident_id: str) -> IncidentRow:
        row = await session.get(IncidentRow, incident_id)
        if row is None or row.tenant_id != principal.tenant_id:
            raise NotFound(f"no incident {incident_id}", reason="INCIDENT_NOT_FOUND")
        return row
