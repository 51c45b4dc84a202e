"""memory embeddings: each memory's vector beside it, for the vector leg of search (issue 15)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 20:00:00.000000

A plain table on both engines (neither sqlite-vec nor pgvector can be counted on): the
int8-quantised vector and its scale, which embedder wrote it, and the memory's owner and
update time, so that the vectors of a scope's most recent memories are read through this
table's indexes. Memories saved before this revision have no row; the backfill embeds them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from menagerie.storage.base import UTCDateTime

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "memory_embeddings",
        sa.Column("memory_id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("dims", sa.Integer(), nullable=False),
        sa.Column("scale", sa.Float(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["memory_id"],
            ["memories.id"],
            name="fk_memory_embeddings_memory_id_memories",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("memory_id", name="pk_memory_embeddings"),
    )
    op.create_index(
        "ix_memory_embeddings_tenant_id", "memory_embeddings", ["tenant_id", "updated_at"]
    )
    op.create_index(
        "ix_memory_embeddings_tenant_user",
        "memory_embeddings",
        ["tenant_id", "user_id", "updated_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_memory_embeddings_tenant_user", table_name="memory_embeddings")
    op.drop_index("ix_memory_embeddings_tenant_id", table_name="memory_embeddings")
    op.drop_table("memory_embeddings")
