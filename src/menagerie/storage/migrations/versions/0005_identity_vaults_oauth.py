"""identity: vaults and OAuth connections

A vault is a tenant (`vault_<vaultId>`), so vaults need no table of their own; OAuth needs the
authorization requests in flight, the connections and their history.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import menagerie.storage.base

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_states",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.Text(), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", menagerie.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", menagerie.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", menagerie.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_oauth_states_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_states")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_oauth_states_state_hash")),
    )
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_states_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "oauth_connections",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("external_user_id", sa.String(length=200), nullable=True),
        sa.Column("team_id", sa.String(length=200), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tokens", sa.Text(), nullable=True),
        sa.Column(
            "token_expires_at", menagerie.storage.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("created_at", menagerie.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", menagerie.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "disconnected_at", menagerie.storage.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_oauth_connections_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_connections")),
    )
    with op.batch_alter_table("oauth_connections", schema=None) as batch_op:
        batch_op.create_index(
            "ix_oauth_connections_tenant_provider",
            ["tenant_id", "provider", "created_at"],
            unique=False,
        )

    op.create_table(
        "oauth_events",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=True),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.Column("created_at", menagerie.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["oauth_connections.id"],
            name=op.f("fk_oauth_events_connection_id_oauth_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_oauth_events_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_events")),
    )
    with op.batch_alter_table("oauth_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_events_connection_id"), ["connection_id"], unique=False
        )
        batch_op.create_index(
            "ix_oauth_events_tenant_provider",
            ["tenant_id", "provider", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("oauth_events", schema=None) as batch_op:
        batch_op.drop_index("ix_oauth_events_tenant_provider")
        batch_op.drop_index(batch_op.f("ix_oauth_events_connection_id"))

    op.drop_table("oauth_events")

    with op.batch_alter_table("oauth_connections", schema=None) as batch_op:
        batch_op.drop_index("ix_oauth_connections_tenant_provider")

    op.drop_table("oauth_connections")

    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_states_tenant_id"))

    op.drop_table("oauth_states")
