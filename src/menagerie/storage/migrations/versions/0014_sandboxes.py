"""sandboxes and their usage ledger

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from menagerie.storage.base import UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "sandboxes",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("backend", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("runtime", sa.String(32), nullable=False),
        sa.Column("vcpus", sa.Integer(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("timeout_minutes", sa.Integer(), nullable=False),
        sa.Column("disk_mb", sa.Integer(), nullable=False),
        sa.Column("environment_sealed", sa.Text(), nullable=True),
        sa.Column("working_directory", sa.String(512), nullable=False),
        sa.Column("network", sa.Boolean(), nullable=False),
        sa.Column("allowed_commands", sa.JSON(), nullable=True),
        sa.Column("packages", sa.JSON(), nullable=False),
        sa.Column("uid", sa.Integer(), nullable=True),
        sa.Column("agent_session_id", sa.String(64), nullable=True),
        sa.Column("agent_config", sa.JSON(), nullable=True),
        sa.Column("attached_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_activity_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("runtime_seconds", sa.Float(), nullable=False),
        sa.Column("executions", sa.Integer(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("current_step", sa.String(200), nullable=True),
        sa.Column("deleted_at", UTCDateTime(timezone=True), nullable=True),
        _tenant_fk("sandboxes"),
        sa.PrimaryKeyConstraint("id", name="pk_sandboxes"),
    )
    op.create_index(
        "ix_sandboxes_tenant_owner", "sandboxes", ["tenant_id", "owner_id", "created_at"]
    )
    op.create_table(
        "sandbox_usage",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("sandbox_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        _tenant_fk("sandbox_usage"),
        sa.PrimaryKeyConstraint("id", name="pk_sandbox_usage"),
    )
    op.create_index("ix_sandbox_usage_tenant_at", "sandbox_usage", ["tenant_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_sandbox_usage_tenant_at", table_name="sandbox_usage")
    op.drop_table("sandbox_usage")
    op.drop_index("ix_sandboxes_tenant_owner", table_name="sandboxes")
    op.drop_table("sandboxes")
