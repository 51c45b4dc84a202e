"""Migrations run up from an empty database, and down again, on every engine."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from menagerie.storage import migrate
from menagerie.storage.database import Database

pytestmark = pytest.mark.empty_database
TABLES = {"tenants", "users", "api_tokens"}


async def _tables(database: Database) -> set[str]:
    async with database.engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_upgrade_from_empty_reaches_head(database_url: str) -> None:
    database = Database(database_url)
    try:
        assert await migrate.current_revision(database) is None
        assert not (await _tables(database)) & TABLES

        revision = await migrate.upgrade(database)

        assert revision == migrate.head_revision()
        assert await migrate.current_revision(database) == revision
        assert await _tables(database) >= TABLES
    finally:
        await database.dispose()


async def test_downgrade_to_base_and_up_again(database_url: str) -> None:
    database = Database(database_url)
    try:
        await migrate.upgrade(database)
        await migrate.downgrade(database, "base")
        assert not (await _tables(database)) & TABLES
        assert await migrate.current_revision(database) is None

        await migrate.upgrade(database)
        assert await _tables(database) >= TABLES
    finally:
        await database.dispose()


async def test_upgrade_is_idempotent(database_url: str) -> None:
    database = Database(database_url)
    try:
        first = await migrate.upgrade(database)
        second = await migrate.upgrade(database)
        assert first == second == migrate.head_revision()
    finally:
        await database.dispose()


async def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        async with database.engine.connect() as conn:
            journal = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
            foreign_keys = (await conn.execute(text("PRAGMA foreign_keys"))).scalar()
            busy = (await conn.execute(text("PRAGMA busy_timeout"))).scalar()
        assert journal == "wal"
        assert foreign_keys == 1
        assert busy >= 5000
    finally:
        await database.dispose()


async def test_foreign_keys_are_enforced(database_url: str) -> None:
    """A user pointing at a tenant that does not exist is refused on every engine."""
    from sqlalchemy.exc import IntegrityError

    database = Database(database_url)
    try:
        await migrate.upgrade(database)
        try:
            async with database.engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO users (id, tenant_id, name, roles, is_active, created_at) "
                        "VALUES ('usr_x', 'no-such-tenant', 'x', '[]', true, CURRENT_TIMESTAMP)"
                    )
                )
        except IntegrityError:
            pass
        else:
            raise AssertionError("foreign key not enforced")
    finally:
        await database.dispose()
