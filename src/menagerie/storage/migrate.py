"""Alembic migrations, run programmatically on the server's own engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from menagerie.storage.database import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# the PostgreSQL advisory lock held while migrating (b"menageri"); advisory locks are per
# database, so only processes sharing one database wait on each other
MIGRATION_LOCK_KEY = 0x6D656E6167657269


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(database: Database, revision: str = "head") -> str | None:
    """Bring the schema up to `revision`; returns the revision now in place.

    Replicas and workers starting together on a new PostgreSQL database all migrate at once:
    each takes a transaction-scoped advisory lock first, so that one migrates and the others,
    let in after its commit, find the schema at head (without it, all but one failed on
    `CREATE TABLE alembic_version`). SQLite serves one machine and locks its file anyway."""

    def _run(connection: Connection) -> str | None:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        command.upgrade(alembic_config(connection), revision)
        return MigrationContext.configure(connection).get_current_revision()

    async with database.engine.begin() as conn:
        return await conn.run_sync(_run)


async def downgrade(database: Database, revision: str = "base") -> None:
    def _run(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), revision)

    async with database.engine.begin() as conn:
        await conn.run_sync(_run)


async def current_revision(database: Database) -> str | None:
    def _read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with database.engine.connect() as conn:
        return await conn.run_sync(_read)
