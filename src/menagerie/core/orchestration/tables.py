"""Orchestrations in the database: the definition a caller asked for and each step's state.

The run that executes an orchestration (`runs`, kind `orchestration`) holds who executes it,
its heartbeat and its step log; these rows hold what the runs table has no place for: each
step's tool, parameters, progress and result, readable while the run is still going (a
later step renders an earlier one's result, and `GET /api/heavy/progress` reads them), and
kept when a lost run is resumed on another worker, so completed steps are not run again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from menagerie.core.clock import utcnow
from menagerie.storage.base import Base, UTCDateTime


class OrchestrationRow(Base):
    __tablename__ = "orchestrations"
    __table_args__ = (
        Index("ix_orchestrations_owner_created", "tenant_id", "user_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(128))
    run_id: Mapped[str | None] = mapped_column(String(64))
    # queued | running | completed | failed | cancelled
    status: Mapped[str] = mapped_column(String(16), default="queued")
    parallel: Mapped[bool] = mapped_column(Boolean, default=False)
    timeout_s: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OrchestrationStepRow(Base):
    __tablename__ = "orchestration_steps"
    __table_args__ = (Index("ix_orchestration_steps_tool_status", "tool", "status"),)

    orchestration_id: Mapped[str] = mapped_column(
        ForeignKey("orchestrations.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    tool: Mapped[str] = mapped_column(String(300))
    parameters: Mapped[Any] = mapped_column(JSON, default=dict)
    after: Mapped[Any] = mapped_column(JSON, default=list)  # steps it waits for
    # pending | running | completed | failed | cancelled
    status: Mapped[str] = mapped_column(String(16), default="pending")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_s: Mapped[float | None] = mapped_column(Float)
    result: Mapped[Any] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text)
