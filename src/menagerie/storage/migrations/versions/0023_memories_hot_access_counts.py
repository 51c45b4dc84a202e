"""memories: room for each search's access count, and no GIN pending list (issue 16)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-08 09:00:00.000000

PostgreSQL only. Every search counts an access on the memories it returns (an UPDATE of ten
rows). The bulk-filled pages of `memories` had no free space, so seven updates in ten could
not be HOT (heap-only: same page, no index touched): each wrote a new entry into every index of
the table, the GIN index of `search_vector` included, whose pending list grew with every search
(6,700 entries after the benchmark's 620 searches) and was read in full by every later search:
the text query went from 6.5 to 12.5 ms at 100k memories, until a VACUUM. With 10 % of each
page left free the updates are HOT (5,578 of 5,580 in the same test) and the GIN index is
written only when a memory's content is.

`fastupdate = off` on the GIN index: a save writes its words into the index itself (no slower
in a save, measured within noise) instead of a pending list that every search reads in full
until a VACUUM or 4 MB of it flushes it: 15,600 pending entries cost a search 3 ms.

Only pages written from now on keep the free space; `VACUUM FULL memories` applies it to the
existing ones (it locks the table while it rewrites it, so it is not done here). The pending
list is flushed here.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = 90


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE memories SET (fillfactor = {FILLFACTOR})")
    op.execute("ALTER INDEX ix_memories_search_vector SET (fastupdate = off)")
    op.execute("SELECT gin_clean_pending_list('ix_memories_search_vector')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER INDEX ix_memories_search_vector RESET (fastupdate)")
    op.execute("ALTER TABLE memories RESET (fillfactor)")
