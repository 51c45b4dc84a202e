"""mcp installations

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 12:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import menagerie.storage.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mcp_installations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("server_name", sa.String(length=128), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=True),
        sa.Column("configuration_sealed", sa.Text(), nullable=False),
        sa.Column("package_key", sa.String(length=300), nullable=True),
        sa.Column("auto_start", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "installed_at", menagerie.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("updated_at", menagerie.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "last_health_check", menagerie.storage.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "server_name", name="uq_mcp_installations_tenant_name"),
    )


def downgrade() -> None:
    op.drop_table("mcp_installations")
