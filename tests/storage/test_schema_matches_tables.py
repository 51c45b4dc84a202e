"""The migrations build exactly the schema the table classes declare, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from menagerie.storage import migrate
from menagerie.storage.base import Base, include_object
from menagerie.storage.database import Database


async def test_no_difference_between_migrations_and_tables(database_url: str) -> None:
    database = Database(database_url)
    try:
        # running the migrations also imports every table module (the environment does)
        await migrate.upgrade(database)

        def diff(connection: Connection) -> list[object]:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": include_object}
            )
            return compare_metadata(context, Base.metadata)

        async with database.engine.connect() as conn:
            differences = await conn.run_sync(diff)
    finally:
        await database.dispose()
    assert differences == []
