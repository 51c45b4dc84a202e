"""memories: a stored tsvector column on PostgreSQL

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 12:45:00.000000

PostgreSQL only. The GIN expression index of 0006 finds the matches, but ranking them
(`ts_rank_cd`) parsed every matching memory's content again. A generated, stored tsvector is
parsed once, at write time, and both the index and the ranking read it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "ALTER TABLE memories ADD COLUMN search_vector tsvector "
        "GENERATED ALWAYS AS (to_tsvector('english', content)) STORED"
    )
    op.execute("CREATE INDEX ix_memories_search_vector ON memories USING gin (search_vector)")
    op.execute("DROP INDEX IF EXISTS ix_memories_search")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE INDEX ix_memories_search ON memories USING gin (to_tsvector('english', content))"
    )
    op.execute("DROP INDEX IF EXISTS ix_memories_search_vector")
    op.execute("ALTER TABLE memories DROP COLUMN IF EXISTS search_vector")
