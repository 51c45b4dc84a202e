"""chat sessions, messages and memories

Memories get a full-text index made by hand: an FTS5 table kept in sync by triggers on
SQLite (it stores the memory id, tenant and user beside the text, so a search needs no join
to filter), a GIN expression index over to_tsvector on PostgreSQL.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 08:01:34.814453
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import menagerie.storage.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("agent_id", sa.String(length=128), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("started_at", menagerie.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", menagerie.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.Column(
            "last_message_at", menagerie.storage.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_chat_sessions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_sessions")),
    )
    with op.batch_alter_table("chat_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_chat_sessions_tenant_user_last",
            ["tenant_id", "user_id", "last_message_at"],
            unique=False,
        )

    op.create_table(
        "chat_messages",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("reply_to_id", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", menagerie.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["chat_sessions.id"],
            name=op.f("fk_chat_messages_session_id_chat_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
        sa.UniqueConstraint("session_id", "position", name="uq_chat_messages_session_position"),
    )
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.create_index("ix_chat_messages_reply_to_id", ["reply_to_id"], unique=False)
        batch_op.create_index(
            "ix_chat_messages_session_created", ["session_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_chat_messages_tenant_user_created",
            ["tenant_id", "user_id", "created_at"],
            unique=False,
        )

    op.create_table(
        "memories",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("agent_id", sa.String(length=128), nullable=True),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=True),
        sa.Column("identity", sa.String(length=400), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("importance", sa.Float(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("context", sa.Text(), nullable=True),
        sa.Column("expires_at", menagerie.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", menagerie.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", menagerie.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "last_accessed_at", menagerie.storage.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("access_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["chat_sessions.id"],
            name=op.f("fk_memories_session_id_chat_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_memories_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memories")),
        sa.UniqueConstraint("identity", name=op.f("uq_memories_identity")),
    )
    with op.batch_alter_table("memories", schema=None) as batch_op:
        batch_op.create_index("ix_memories_expires_at", ["expires_at"], unique=False)
        batch_op.create_index("ix_memories_session_id", ["session_id"], unique=False)
        batch_op.create_index(
            "ix_memories_tenant_user_category_key",
            ["tenant_id", "user_id", "category", "key"],
            unique=False,
        )
        batch_op.create_index(
            "ix_memories_tenant_user_created", ["tenant_id", "user_id", "created_at"], unique=False
        )
    _create_search_index()


FTS_TABLE = "memories_fts"
FTS_COLUMNS = "memory_id, tenant_id, user_id, content"


def _create_search_index() -> None:
    # only constants are interpolated into these statements
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5("
            "memory_id UNINDEXED, tenant_id UNINDEXED, user_id UNINDEXED, content, "
            "tokenize = 'porter unicode61')"
        )
        op.execute(
            f"CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN "
            f"INSERT INTO {FTS_TABLE} ({FTS_COLUMNS}) "
            "VALUES (new.id, new.tenant_id, new.user_id, new.content); END"
        )
        op.execute(
            f"CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN "
            f"DELETE FROM {FTS_TABLE} WHERE memory_id = old.id; END"
        )
        op.execute(
            f"CREATE TRIGGER memories_fts_update AFTER UPDATE OF content, user_id ON memories "
            f"BEGIN DELETE FROM {FTS_TABLE} WHERE memory_id = old.id; "
            f"INSERT INTO {FTS_TABLE} ({FTS_COLUMNS}) "
            "VALUES (new.id, new.tenant_id, new.user_id, new.content); END"
        )
    else:
        op.execute(
            "CREATE INDEX ix_memories_search ON memories "
            "USING gin (to_tsvector('english', content))"
        )


def _drop_search_index() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS memories_fts_{trigger}")
        op.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    else:
        op.execute("DROP INDEX IF EXISTS ix_memories_search")


def downgrade() -> None:
    _drop_search_index()
    with op.batch_alter_table("memories", schema=None) as batch_op:
        batch_op.drop_index("ix_memories_tenant_user_created")
        batch_op.drop_index("ix_memories_tenant_user_category_key")
        batch_op.drop_index("ix_memories_session_id")
        batch_op.drop_index("ix_memories_expires_at")

    op.drop_table("memories")
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_messages_tenant_user_created")
        batch_op.drop_index("ix_chat_messages_session_created")
        batch_op.drop_index("ix_chat_messages_reply_to_id")

    op.drop_table("chat_messages")
    with op.batch_alter_table("chat_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_sessions_tenant_user_last")

    op.drop_table("chat_sessions")
