"""The async engine, its sessions, and what health checks need to know about it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool, QueuePool

from menagerie.core.errors import Unavailable, storage_full

# What a lost or refused database connection looks like, whichever driver raised it.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    ConnectionError,
    OSError,
    TimeoutError,
)


class CancelledResetFilter(logging.Filter):
    """The pool's "Exception during reset or similar" when the task giving a connection back
    was cancelled (a background loop stopped at shutdown, a client gone): no error, for the
    pool invalidates that connection and closes it, rolled back. Said at DEBUG, without the
    traceback an operator would take for a failure."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, asyncio.CancelledError):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.msg, record.args = "a connection given back by a cancelled task is closed", ()
        record.exc_info, record.exc_text = None, None
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def _quiet_cancelled_resets(engine: AsyncEngine) -> None:
    pool_logger = logging.getLogger(f"{type(engine.pool).__module__}.{type(engine.pool).__name__}")
    if not any(isinstance(f, CancelledResetFilter) for f in pool_logger.filters):
        pool_logger.addFilter(CancelledResetFilter())


@dataclass(frozen=True, slots=True)
class DatabaseStatus:
    healthy: bool
    backend: str
    latency_ms: float | None
    pool_in_use: int | None
    pool_size: int | None
    query_avg_ms: float | None
    error: str | None = None


def is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, ConnectionError | OSError | TimeoutError)


class Database:
    """One engine per process. Sessions raise `Unavailable("database")` when it is down."""

    def __init__(self, url: str, *, pool_size: int = 10, connect_timeout: float = 5.0) -> None:
        self.url = url
        self.backend = url.split(":", 1)[0].split("+", 1)[0]
        self.connect_timeout = connect_timeout
        self.engine: AsyncEngine = self._create_engine(url, pool_size, connect_timeout)
        _quiet_cancelled_resets(self.engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._query_times: list[float] = []

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    @staticmethod
    def _create_engine(url: str, pool_size: int, connect_timeout: float) -> AsyncEngine:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[1] if "///" in url else ""
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_async_engine(
                url,
                poolclass=AsyncAdaptedQueuePool,
                pool_size=pool_size,
                max_overflow=0,
                connect_args={"timeout": 30, "factory": RollingBackConnection},
            )
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            return engine
        connect_args: dict[str, Any] = {}
        if url.startswith("postgresql+asyncpg"):
            connect_args = {"timeout": connect_timeout, "command_timeout": 60}
        return create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            pool_timeout=connect_timeout,
            connect_args=connect_args,
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed on success, rolled back on error."""
        try:
            async with self.sessions() as session, session.begin():
                yield session
        except CONNECTION_ERRORS as exc:
            _raise_unavailable(exc)
            raise

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection in a transaction, committed on success: for a hot path's plain
        statements, without the ORM session's identity map, events and bookkeeping."""
        try:
            async with self.engine.begin() as connection:
                yield connection
        except CONNECTION_ERRORS as exc:
            _raise_unavailable(exc)
            raise

    async def wait_until_reachable(self, within_s: float) -> None:
        """Ping until the database answers, for `within_s`; then `Unavailable`."""
        deadline = asyncio.get_running_loop().time() + within_s
        while True:
            try:
                await self.ping()
                return
            except Unavailable:
                if asyncio.get_running_loop().time() >= deadline:
                    raise
                await asyncio.sleep(0.5)

    async def ping(self) -> float:
        """Seconds for a `SELECT 1` round trip; raises `Unavailable` when unreachable."""
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.connect_timeout), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (*CONNECTION_ERRORS, DBAPIError) as exc:
            raise Unavailable("database unavailable", service="database") from exc
        elapsed = time.perf_counter() - started
        self._query_times = [*self._query_times[-49:], elapsed]
        return elapsed

    async def status(self) -> DatabaseStatus:
        pool = self.engine.pool
        pool_size = pool.size() if isinstance(pool, QueuePool) else None
        in_use = pool.checkedout() if isinstance(pool, QueuePool) else None
        try:
            latency = await self.ping()
        except Unavailable as exc:
            cause = exc.__cause__
            return DatabaseStatus(
                healthy=False,
                backend=self.backend,
                latency_ms=None,
                pool_in_use=in_use,
                pool_size=pool_size,
                query_avg_ms=None,
                error=type(cause).__name__ if cause else "unavailable",
            )
        average = sum(self._query_times) / len(self._query_times)
        return DatabaseStatus(
            healthy=True,
            backend=self.backend,
            latency_ms=round(latency * 1000, 2),
            pool_in_use=in_use,
            pool_size=pool_size,
            query_avg_ms=round(average * 1000, 2),
        )

    async def dispose(self) -> None:
        await self.engine.dispose()


class RollingBackConnection(sqlite3.Connection):
    """A SQLite connection that rolls its transaction back before it closes.

    A task cancelled between a statement's execute and its fetch (a client gone mid-turn)
    has its connection closed by the pool with that statement still open. SQLite then keeps
    the connection, and its transaction's write lock on the whole database, until the
    statement is finalized: whenever the garbage collector gets to the cursor, every writer
    waiting meanwhile. A rollback first ends the transaction and aborts the statement."""

    def close(self) -> None:
        if self.in_transaction:
            # closing goes on whatever the rollback says: a failed one leaves nothing held
            with contextlib.suppress(sqlite3.Error):
                self.rollback()
        super().close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _raise_unavailable(exc: BaseException) -> None:
    """A full disk or a lost database as core's error; anything else goes on as it was."""
    full = storage_full(exc)  # SQLite's "database or disk is full" is an OperationalError
    if full is not None:
        raise full from exc
    if is_connection_error(exc):
        raise Unavailable("database unavailable", service="database") from exc
