"""Deployments: one row per deployment of an NFT's agent; the latest row of an NFT is its
deployment now, the stopped ones are its history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from menagerie.storage.base import Base, UTCDateTime


class DeploymentRow(Base):
    __tablename__ = "deployments"
    __table_args__ = (
        Index("ix_deployments_tenant_nft", "tenant_id", "nft_token_id", "created_at"),
        Index("ix_deployments_status", "status"),
        Index("ix_deployments_tenant_user", "tenant_id", "user_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(128))  # who deployed it
    nft_token_id: Mapped[str] = mapped_column(String(80))
    provider: Mapped[str] = mapped_column(String(16))
    # deploying | running | stopped: what the deployment should be and is. Deploying and
    # running are resumed after a restart of the server
    status: Mapped[str] = mapped_column(String(16))
    resources: Mapped[dict[str, Any]] = mapped_column(JSON)
    port: Mapped[int | None] = mapped_column(Integer)
    endpoint_url: Mapped[str | None] = mapped_column(String(200))
    pid: Mapped[int | None] = mapped_column(Integer)
    restarts: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)  # the latest step, in words
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
