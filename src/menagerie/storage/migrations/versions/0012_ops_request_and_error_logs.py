"""ops: request and error logs

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 14:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from menagerie.storage.base import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "request_logs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("path", sa.String(2000), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("response_ms", sa.Float(), nullable=False),
        sa.Column("user_agent", sa.String(300), nullable=True),
        sa.Column("client_address", sa.String(64), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_request_logs"),
    )
    op.create_index("ix_request_logs_tenant_created", "request_logs", ["tenant_id", "created_at"])
    op.create_index("ix_request_logs_created", "request_logs", ["created_at"])
    op.create_table(
        "error_logs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("stack_trace", sa.Text(), nullable=True),
        sa.Column("component", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_error_logs"),
    )
    op.create_index("ix_error_logs_created", "error_logs", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_error_logs_created", table_name="error_logs")
    op.drop_table("error_logs")
    op.drop_index("ix_request_logs_created", table_name="request_logs")
    op.drop_index("ix_request_logs_tenant_created", table_name="request_logs")
    op.drop_table("request_logs")
