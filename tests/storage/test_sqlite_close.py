"""A SQLite connection closed in the middle of a statement gives up the database's write lock
at once (storage/database.py, RollingBackConnection): a request cancelled mid-transaction
never leaves every other writer waiting on a lock its connection no longer uses."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import anyio
import pytest
from sqlalchemy import text

from menagerie.storage.database import Database


@pytest.fixture
async def database(tmp_path: Path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}")
    async with db.engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (x INTEGER)"))
        await connection.execute(text("INSERT INTO t VALUES (1), (2), (3)"))
    yield db
    await db.dispose()


def write_lock_free(db: Database) -> bool:
    """Whether another connection can take the write lock within half a second."""
    probe = sqlite3.connect(db.url.split("///", 1)[1], timeout=0.5)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.rollback()
        return True
    except sqlite3.OperationalError as error:
        if "locked" not in str(error):
            raise
        return False
    finally:
        probe.close()


async def test_an_invalidated_connection_with_an_open_statement_releases_the_lock(
    database: Database,
) -> None:
    connection = await database.engine.connect()
    await connection.begin()
    await connection.execute(text("INSERT INTO t VALUES (4)"))
    pending = await connection.stream(text("SELECT x FROM t"))  # stepped, never finished
    assert not write_lock_free(database)
    await connection.invalidate()  # what the pool does to a connection it cannot reset
    assert write_lock_free(database)
    del pending
    # nothing of the transaction stayed
    async with database.engine.connect() as check:
        assert (await check.execute(text("SELECT count(*) FROM t"))).scalar_one() == 3


async def test_a_session_cancelled_mid_statement_releases_the_lock(database: Database) -> None:
    """End to end, as a streamed response's task group cancels a turn when its client goes
    away (delivered again at every await): whichever way the pool gives the connection up,
    reset or closed, the next writer writes at once."""
    held: list[object] = []
    with anyio.CancelScope() as scope:
        async with database.session() as session:
            await session.execute(text("INSERT INTO t VALUES (4)"))
            held.append(await session.stream(text("SELECT x FROM t")))
            scope.cancel()
            await anyio.sleep(1)
    assert scope.cancelled_caught
    assert held  # the open statement is still referenced, as a traceback would hold it
    assert write_lock_free(database)
    async with database.session() as session:  # the pool's next connection writes at once
        await session.execute(text("INSERT INTO t VALUES (5)"))
    async with database.engine.connect() as check:
        values = (await check.execute(text("SELECT x FROM t ORDER BY x"))).scalars().all()
    assert values == [1, 2, 3, 5]


@pytest.mark.parametrize("url", ["sqlite", "postgresql"])
def test_a_cancelled_reset_is_no_error_but_other_failures_are(
    tmp_path: Path, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLAlchemy's pool logs a connection given back by a cancelled task (a background loop
    stopped at shutdown) as an error with a traceback; the connection is closed, rolled back,
    and nothing failed: it is said at DEBUG. Any other failure stays an error."""
    address = (
        f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}"
        if url == "sqlite"
        else "postgresql+asyncpg://nobody@127.0.0.1:1/none"  # never connected here
    )
    db = Database(address)
    pool_logger = db.engine.sync_engine.pool.logger
    caplog.set_level(logging.DEBUG, logger=pool_logger.name)
    for error in (asyncio.CancelledError(), OSError("disk I/O error")):
        try:
            raise error
        except BaseException:
            pool_logger.error("Exception during reset or similar", exc_info=True)
    cancelled, failed = [r for r in caplog.records if r.name == pool_logger.name]
    assert (cancelled.levelno, cancelled.exc_info) == (logging.DEBUG, None)
    assert "cancelled task" in cancelled.getMessage()
    assert failed.levelno == logging.ERROR
    assert failed.exc_info is not None
    assert failed.getMessage() == "Exception during reset or similar"
