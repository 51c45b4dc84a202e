"""Incidents: what an operator opened about the service, per tenant, admins only.

An incident has a title, a description, a severity (low … critical), a status (open,
investigating, resolved) and an assignee. Another tenant's incidents do not exist for a
caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import select

from menagerie.core.clock import utcnow
from menagerie.core.errors import Invalid
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.ops.tables import IncidentRow
from menagerie.core.paging import check_page
from menagerie.storage.database import Database

Severity = Literal["low", "medium", "high", "critical"]
IncidentStatus = Literal["open", "investigating", "resolved"]
SEVERITIES: tuple[str, ...] = get_args(Severity)
STATUSES: tuple[str, ...] = get_args(IncidentStatus)
MAX_TITLE = 200
MAX_DESCRIPTION = 10_000


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
