"""Scout projects and their deployments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from menagerie.core.clock import utcnow
from menagerie.storage.base import Base, UTCDateTime


class ScoutProjectRow(Base):
    __tablename__ = "scout_projects"
    __table_args__ = (
        # a project is addressed by its name (`…/projects/{project_name}/status`)
        UniqueConstraint("tenant_id", "user_id", "name", name="uq_scout_projects_owner_name"),
        Index("ix_scout_projects_owner_created", "tenant_id", "user_id", "created_at"),
        Index("ix_scout_projects_template_status", "template", "status"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    template: Mapped[str] = mapped_column(String(64))
    features: Mapped[Any] = mapped_column(JSON, default=list)
    configuration: Mapped[Any] = mapped_column(JSON, default=dict)
    repository: Mapped[Any] = mapped_column(JSON, nullable=True)  # as asked for; none is made
    workspace_id: Mapped[str] = mapped_column(String(64))
    # initializing | building | completed | failed | cancelled
    status: Mapped[str] = mapped_column(String(16), default="initializing")
    plan: Mapped[Any] = mapped_column(JSON, default=list)  # the steps, as plans.py writes them
    planned_by: Mapped[str] = mapped_column(String(200), default="template")
    # measured seconds per step name once the run ended: the next projects' estimates
    durations: Mapped[Any] = mapped_column(JSON, default=dict)
    run_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ScoutDeploymentRow(Base):
    __tablename__ = "scout_deployments"
    __table_args__ = (Index("ix_scout_deployments_project", "project_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(128))
    project_id: Mapped[str] = mapped_column(ForeignKey("scout_projects.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))  # local | vercel
    environment: Mapped[str] = mapped_column(String(32))
    # deploying | deployed | failed | stopped
    status: Mapped[str] = mapped_column(String(16))
    url: Mapped[str | None] = mapped_column(Text)
    logs_url: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(128))  # the platform's own id
    error: Mapped[str | None] = mapped_column(Text)
    duration_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
