"""Migrations run up from an empty database, and down again, on every engine."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, insert, inspect, select, text, update

from menagerie.core.clock import utcnow
from menagerie.core.identity.models import Principal
from menagerie.core.identity.numbers import user_number
from menagerie.core.identity.tables import TenantRow, UserRow
from menagerie.core.memory.service import MemoryService
from menagerie.core.memory.tables import MemoryRow
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


def _memory_rows(words: tuple[str, ...]) -> list[dict[str, object]]:
    now = utcnow()
    return [
        {
            "id": f"mem_{word}",
            "tenant_id": "t",
            "user_id": "u",
            "category": "facts",
            "content": f"the user likes {word}",
            "value": word,
            "importance": 0.5,
            "tags": [],
            "meta": {},
            "created_at": now,
            "updated_at": now,
            "access_count": 0,
        }
        for word in words
    ]


async def test_memories_saved_before_the_search_migrations_are_found_after(
    database_url: str,
) -> None:
    """0009 (SQLite's map) and 0010 (PostgreSQL's stored tsvector) index what was there."""
    database = Database(database_url)
    try:
        await migrate.upgrade(database, "0008")
        async with database.session() as session:
            await session.execute(insert(TenantRow).values(id="t", name="t", created_at=utcnow()))
            await session.execute(insert(MemoryRow), _memory_rows(("tea", "chess")))
        await migrate.upgrade(database)
        memory = MemoryService(database)
        me = Principal("t", "u")
        assert [hit.memory.id for hit in await memory.search(me, "chess")] == ["mem_chess"]
        await memory.delete(me, "mem_chess")
        assert await memory.search(me, "chess") == []
        assert [hit.memory.id for hit in await memory.search(me, "tea")] == ["mem_tea"]
    finally:
        await database.dispose()


async def test_users_made_before_0011_are_numbered_as_new_ones_are(database_url: str) -> None:
    database = Database(database_url)
    try:
        await migrate.upgrade(database, "0010")
        async with database.session() as session:
            await session.execute(insert(TenantRow).values(id="t", name="t", created_at=utcnow()))
            await session.execute(
                text(
                    "INSERT INTO users (id, tenant_id, name, roles, is_active, created_at) "
                    "VALUES (:id, 't', :id, '[]', true, :now)"
                ),
                [{"id": f"usr_{n}", "now": utcnow()} for n in range(3)],
            )
        await migrate.upgrade(database)
        async with database.session() as session:
            numbers = dict((await session.execute(select(UserRow.id, UserRow.number))).all())
        assert numbers == {f"usr_{n}": user_number(f"usr_{n}") for n in range(3)}
    finally:
        await database.dispose()


async def test_memories_indexed_before_0009_stay_searchable_and_deletable(tmp_path) -> None:
    """0009 maps the memories 0006's triggers indexed, so deleting them reaches the index."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    now = utcnow()
    rows = _memory_rows(("tea", "chess", "rain"))
    try:
        await migrate.upgrade(database, "0008")
        async with database.session() as session:
            await session.execute(insert(TenantRow).values(id="t", name="t", created_at=now))
            await session.execute(insert(MemoryRow), rows)
        await migrate.upgrade(database)
        async with database.session() as session:
            await session.execute(delete(MemoryRow).where(MemoryRow.id == "mem_chess"))
            await session.execute(
                update(MemoryRow).where(MemoryRow.id == "mem_rain").values(content="snow")
            )
        async with database.engine.connect() as conn:
            found = {
                query: (
                    await conn.execute(
                        text("SELECT memory_id FROM memories_fts WHERE memories_fts MATCH :q"),
                        {"q": query},
                    )
                )
                .scalars()
                .all()
                for query in ("tea", "chess", "rain", "snow")
            }
            mapped = (await conn.execute(text("SELECT count(*) FROM memories_fts_map"))).scalar()
        assert found == {"tea": ["mem_tea"], "chess": [], "rain": [], "snow": ["mem_rain"]}
        assert mapped == 2
        await migrate.downgrade(database, "0008")  # and back: the old triggers again
        async with database.session() as session:
            await session.execute(delete(MemoryRow).where(MemoryRow.id == "mem_tea"))
        async with database.engine.connect() as conn:
            left = (await conn.execute(text("SELECT count(*) FROM memories_fts"))).scalar()
        assert left == 1
    finally:
        await database.dispose()
