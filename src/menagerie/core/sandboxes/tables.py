"""Sandboxes and their usage ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from menagerie.storage.base import Base, UTCDateTime


class SandboxRow(Base):
    """One sandbox; a deleted one stays (terminated, `deleted_at` set) for the usage period."""

    __tablename__ = "sandboxes"
    __table_args__ = (Index("ix_sandboxes_tenant_owner", "tenant_id", "owner_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    owner_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    template: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))  # sandbox | nixos | docker | codespace
    backend: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    runtime: Mapped[str] = mapped_column(String(32))
    vcpus: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    timeout_minutes: Mapped[int] = mapped_column(Integer)
    disk_mb: Mapped[int] = mapped_column(Integer)
    environment_sealed: Mapped[str | None] = mapped_column(Text)  # Fernet: may hold secrets
    working_directory: Mapped[str] = mapped_column(String(512))
    network: Mapped[bool] = mapped_column(Boolean)
    allowed_commands: Mapped[list[str] | None] = mapped_column(JSON)
    packages: Mapped[list[str]] = mapped_column(JSON)
    uid: Mapped[int | None] = mapped_column(Integer)  # the OS user it runs as, when switched
    agent_session_id: Mapped[str | None] = mapped_column(String(64))
    agent_config: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    runtime_seconds: Mapped[float] = mapped_column(Float)  # closed runs only
    executions: Mapped[int] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[int] = mapped_column(Integer)
    current_step: Mapped[str | None] = mapped_column(String(200))
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SandboxUsageRow(Base):
    """The ledger a tier is measured by: a closed run's seconds, or one execution."""

    __tablename__ = "sandbox_usage"
    __table_args__ = (Index("ix_sandbox_usage_tenant_at", "tenant_id", "at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    sandbox_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))  # runtime | execution
    quantity: Mapped[float] = mapped_column(Float)  # seconds, or 1
    at: Mapped[datetime] = mapped_column(UTCDateTime)
