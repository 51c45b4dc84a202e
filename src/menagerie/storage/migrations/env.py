"""Alembic environment: runs on a connection handed in by `menagerie.storage.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

# importing the table modules registers their tables on the metadata
import menagerie.core.chat.tables
import menagerie.core.deployments.tables
import menagerie.core.identity.oauth.tables
import menagerie.core.identity.tables
import menagerie.core.identity.wallet.tables
import menagerie.core.llm.tables
import menagerie.core.memory.tables
import menagerie.core.ops.tables
import menagerie.core.orchestration.tables
import menagerie.core.runs.tables
import menagerie.core.sandboxes.tables
import menagerie.core.scout.tables
import menagerie.core.tools.tables
import menagerie.core.workflows.tables  # noqa: F401
from menagerie.storage.base import Base, include_object

metadata = Base.metadata

config = context.config


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters via table copies
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `menagerie migrate`, which supplies a connection")
run_migrations(connection)
