"""memories fts: delete and update through an indexed map, not a scan

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 12:30:00.000000

SQLite only. The FTS5 table's `memory_id` column is UNINDEXED, so the delete and update
triggers of 0006 scanned the whole index for every memory they touched (55 to 95 ms per delete
at 100k memories; a prune of a thousand took a minute). A map from memory id to the FTS rowid
(a real primary key) turns that into two indexed lookups. The memories table's own implicit
rowid is not used for this: VACUUM may renumber it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS = "memories_fts"
MAP = "memories_fts_map"
COLUMNS = "memory_id, tenant_id, user_id, content"
NEW_ROW = "new.id, new.tenant_id, new.user_id, new.content"
TRIGGERS = ("insert", "delete", "update")

# only constants are interpolated into these statements
_INDEX_NEW = (
    f"INSERT INTO {FTS} ({COLUMNS}) VALUES ({NEW_ROW}); "
    f"INSERT INTO {MAP} (memory_id, fts_rowid) VALUES (new.id, last_insert_rowid()); "
)
_UNINDEX_OLD = (
    f"DELETE FROM {FTS} WHERE rowid = "
    f"(SELECT fts_rowid FROM {MAP} WHERE memory_id = old.id); "
    f"DELETE FROM {MAP} WHERE memory_id = old.id; "
)


def _drop_triggers() -> None:
    for trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS memories_fts_{trigger}")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        f"CREATE TABLE {MAP} (memory_id VARCHAR(64) PRIMARY KEY, fts_rowid INTEGER NOT NULL)"
    )
    op.execute(f"INSERT INTO {MAP} (memory_id, fts_rowid) SELECT memory_id, rowid FROM {FTS}")
    _drop_triggers()
    op.execute(f"CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN {_INDEX_NEW}END")
    op.execute(
        f"CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN {_UNINDEX_OLD}END"
    )
    op.execute(
        "CREATE TRIGGER memories_fts_update AFTER UPDATE OF content, user_id ON memories "
        f"BEGIN {_UNINDEX_OLD}{_INDEX_NEW}END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _drop_triggers()
    op.execute(f"DROP TABLE IF EXISTS {MAP}")
    op.execute(
        "CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN "
        f"INSERT INTO {FTS} ({COLUMNS}) VALUES ({NEW_ROW}); END"
    )
    op.execute(
        "CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN "
        f"DELETE FROM {FTS} WHERE memory_id = old.id; END"
    )
    op.execute(
        "CREATE TRIGGER memories_fts_update AFTER UPDATE OF content, user_id ON memories "
        f"BEGIN DELETE FROM {FTS} WHERE memory_id = old.id; "
        f"INSERT INTO {FTS} ({COLUMNS}) VALUES ({NEW_ROW}); END"
    )
