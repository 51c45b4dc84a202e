"""The memories table. Its full-text index lives beside it, created by the migrations:
an FTS5 table kept in sync by triggers on SQLite; on PostgreSQL a stored, generated tsvector
column with a GIN index (made by hand, as SQLite has no such column). Also by hand on
PostgreSQL (0023): the table's pages keep 10 % free, so that a search's access count is a
heap-only update that touches no index, and the GIN index has no pending list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from menagerie.core.clock import utcnow
from menagerie.storage.base import Base, UTCDateTime

FTS_TABLE = "memories_fts"  # SQLite
FTS_INDEX = "ix_memories_search_vector"  # PostgreSQL
SEARCH_VECTOR = "search_vector"  # PostgreSQL
TS_CONFIG = "english"


class MemoryRow(Base):
    __tablename__ = "memories"
    __table_args__ = (
        Index("ix_memories_tenant_user_created", "tenant_id", "user_id", "created_at"),
        Index("ix_memories_tenant_user_category_key", "tenant_id", "user_id", "category", "key"),
        Index("ix_memories_session_id", "session_id"),
        Index("ix_memories_expires_at", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(128))
    agent_id: Mapped[str | None] = mapped_column(String(128))
    session_id: Mapped[str | None] = mapped_column(
        ForeignKey("chat_sessions.id", ondelete="CASCADE")
    )
    category: Mapped[str] = mapped_column(String(64))
    key: Mapped[str | None] = mapped_column(String(128))
    # the upsert identity: (user, agent, category, key) with '' for "none", so that a unique
    # index can hold it on both databases (NULLs are never equal in a unique index)
    identity: Mapped[str | None] = mapped_column(String(400), unique=True)
    content: Mapped[str] = mapped_column(Text)
    value: Mapped[Any] = mapped_column(JSON)
    importance: Mapped[float] = mapped_column(Float, default=0.5)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    context: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_accessed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    access_count: Mapped[int] = mapped_column(Integer, default=0)


class MemoryEmbeddingRow(Base):
    """A memory's embedding, beside it: one row per memory, removed with it (the foreign key
    cascades). The vector is int8-quantised (`dims` bytes) with one float `scale`, so that the
    value of component i is `vector[i] * scale`: a quarter of float32's bytes to read per
    candidate, at a cosine error under 1e-3. `model` says which embedder wrote it; a row of
    another model is re-embedded by the backfill. `updated_at` is the memory's own, so that the
    most recent memories' vectors are read through this table's indexes alone."""

    __tablename__ = "memory_embeddings"
    __table_args__ = (
        Index("ix_memory_embeddings_tenant_id", "tenant_id", "updated_at"),
        Index("ix_memory_embeddings_tenant_user", "tenant_id", "user_id", "updated_at"),
    )

    memory_id: Mapped[str] = mapped_column(
        ForeignKey("memories.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(128))
    model: Mapped[str] = mapped_column(String(128))
    dims: Mapped[int] = mapped_column(Integer)
    scale: Mapped[float] = mapped_column(Float)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
