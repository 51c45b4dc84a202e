"""orchestrations: Crazy Gary's heavy orchestrations and their steps (issue 12)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 17:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from menagerie.storage.base import UTCDateTime

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "orchestrations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("parallel", sa.Boolean(), nullable=False),
        sa.Column("timeout_s", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_orchestrations_tenant_id_tenants",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_orchestrations"),
    )
    op.create_index(
        "ix_orchestrations_owner_created",
        "orchestrations",
        ["tenant_id", "user_id", "created_at"],
    )
    op.create_table(
        "orchestration_steps",
        sa.Column("orchestration_id", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("tool", sa.String(300), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["orchestration_id"],
            ["orchestrations.id"],
            name="fk_orchestration_steps_orchestration_id_orchestrations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("orchestration_id", "number", name="pk_orchestration_steps"),
    )
    op.create_index("ix_orchestration_steps_tool_status", "orchestration_steps", ["tool", "status"])


def downgrade() -> None:
    op.drop_index("ix_orchestration_steps_tool_status", table_name="orchestration_steps")
    op.drop_table("orchestration_steps")
    op.drop_index("ix_orchestrations_owner_created", table_name="orchestrations")
    op.drop_table("orchestrations")
