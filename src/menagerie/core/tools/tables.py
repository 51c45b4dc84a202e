"""MCP installations: which servers each tenant installed, and their sealed configuration."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from menagerie.core.clock import utcnow
from menagerie.storage.base import Base, UTCDateTime


class McpInstallationRow(Base):
    __tablename__ = "mcp_installations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "server_name", name="uq_mcp_installations_tenant_name"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    server_name: Mapped[str] = mapped_column(String(128))
    # the catalogue entry of a server imported from a client configuration (no secrets in it)
    definition: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    configuration_sealed: Mapped[str] = mapped_column(Text)  # Fernet: it holds credentials
    package_key: Mapped[str | None] = mapped_column(String(300))
    auto_start: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_health_check: Mapped[datetime | None] = mapped_column(UTCDateTime)
