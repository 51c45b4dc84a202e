"""Operations: the logs of answered requests and logged errors (logbook.py), incidents and
their updates, and the maintenance state (maintenance.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from menagerie.storage.base import Base, UTCDateTime


class RequestLogRow(Base):
    """One answered HTTP request: never its query string or body, which may hold secrets."""

    __tablename__ = "request_logs"
    __table_args__ = (
        Index("ix_request_logs_tenant_created", "tenant_id", "created_at"),
        Index("ix_request_logs_created", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(String(64))  # None: no credential
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    method: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(2000))
    status: Mapped[int] = mapped_column(Integer)
    response_ms: Mapped[float] = mapped_column(Float)
    user_agent: Mapped[str | None] = mapped_column(String(300))
    client_address: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(128))


class ErrorLogRow(Base):
    """One warning or error the server logged, redacted as every log line is."""

    __tablename__ = "error_logs"
    __table_args__ = (Index("ix_error_logs_created", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    level: Mapped[str] = mapped_column(String(16))  # warning | error | critical
    message: Mapped[str] = mapped_column(Text)
    stack_trace: Mapped[str | None] = mapped_column(Text)
    component: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(128))


class IncidentRow(Base):
    """An incident an operator opened: what, how bad, who is on it, where it stands."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # open | investigating | resolved
    severity: Mapped[str] = mapped_column(String(16))  # low | medium | high | critical
    assignee: Mapped[str | None] = mapped_column(String(320))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IncidentUpdateRow(Base):
    """One entry of an incident's timeline: what was said, by whom, and the status or
    assignee it set (None: unchanged)."""

    __tablename__ = "incident_updates"
    __table_args__ = (Index("ix_incident_updates_incident_created", "incident_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    author: Mapped[str] = mapped_column(String(64))  # the user id of who wrote it
    status: Mapped[str | None] = mapped_column(String(16))
    assignee: Mapped[str | None] = mapped_column(String(320))
    message: Mapped[str] = mapped_column(Text)


class MaintenanceRow(Base):
    """The server's maintenance state: one row (`id` "server"), read by every replica."""

    __tablename__ = "maintenance"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean)
    message: Mapped[str] = mapped_column(Text)
    affected_services: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: all
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    estimated_return: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(64))
