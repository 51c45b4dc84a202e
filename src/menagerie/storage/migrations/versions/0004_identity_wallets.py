"""identity: SIWE nonces and wallet sessions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import menagerie.storage.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = menagerie.storage.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "wallet_challenges",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("nonce_hash", sa.String(length=64), nullable=False),
        sa.Column("message_hash", sa.String(length=64), nullable=False),
        sa.Column("wallet", sa.String(length=42), nullable=False),
        sa.Column("nft_token_id", sa.String(length=78), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", UTC(timezone=True), nullable=False),
        sa.Column("expires_at", UTC(timezone=True), nullable=False),
        sa.Column("consumed_at", UTC(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_challenges")),
        sa.UniqueConstraint("nonce_hash", name=op.f("uq_wallet_challenges_nonce_hash")),
    )
    with op.batch_alter_table("wallet_challenges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_wallet_challenges_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "wallet_accounts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("last_sign_in_at", UTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_wallet_accounts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_wallet_accounts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_accounts")),
        sa.UniqueConstraint("tenant_id", "address", name=op.f("uq_wallet_accounts_tenant_id")),
        sa.UniqueConstraint("user_id", name=op.f("uq_wallet_accounts_user_id")),
    )


def downgrade() -> None:
    op.drop_table("wallet_accounts")
    with op.batch_alter_table("wallet_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wallet_challenges_expires_at"))
    op.drop_table("wallet_challenges")
