"""The operations logbook: answered requests and logged warnings and errors, persisted.

Both are written off the request path (storage/batches.py) and kept for `retention_days` or
`max_rows` rows, whichever is fewer; a pruning pass runs with the writer. Who reads what:

- A tenant's admin reads the requests made with its tenant's credentials. Requests without a
  credential, and the error log (server-wide, whatever tenant it concerns), are the server
  operator's: an admin of the default tenant.
- Nothing secret is stored: a request's path without its query string (tokens travel in
  `?token=`), a user agent cut to 300 characters; log messages and stack traces pass the
  server's redactor, as every log line does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from menagerie.core.clock import utcnow
from menagerie.core.errors import Invalid
from menagerie.core.identity.models import Principal
from menagerie.core.ids import new_id
from menagerie.core.ops.tables import ErrorLogRow, RequestLogRow
from menagerie.core.paging import check_page
from menagerie.core.redact import Redactor
from menagerie.storage.batches import BatchWriter
from menagerie.storage.database import Database

log = logging.getLogger(__name__)
MAX_LIST = 1000
PRUNE_EVERY_S = 60.0
LEVELS = ("info", "warning", "error", "critical")


@dataclass(frozen=True, slots=True)
class RequestLog:
    timestamp: datetime
    method: str
    path: str
    status: int
    response_ms: float
    user_agent: str | None
    client_address: str | None
    request_id: str


@dataclass(frozen=True, slots=True)
class ErrorLog:
    timestamp: datetime
    level: str
    message: str
    stack_trace: str | None
    component: str
    request_id: str | None


class Logbook:
    def __init__(
        self,
        database: Database,
        redactor: Redactor,
        *,
        operator_tenant: str,
        retention_days: int = 7,
        max_rows: int = 100_000,
    ) -> None:
        self._db = database
        self._redact = redactor
        self._operator_tenant = operator_tenant
        self._retention = timedelta(days=retention_days)
        self._max_rows = max_rows
        self._requests = BatchWriter(database, RequestLogRow, name="request-log", interval_s=1.0)
        self._errors = BatchWriter(database, ErrorLogRow, name="error-log", interval_s=1.0)
        self.handler = LogbookHandler(self)
        self._pruner: asyncio.Task[None] | None = None

    # -- writing ------------------------------------------------------------------------------

    def request(
        self,
        *,
        tenant_id: str | None,
        method: str,
        path: str,
        status: int,
        response_ms: float,
        user_agent: str | None,
        client_address: str | None,
        request_id: str,
    ) -> None:
        self._requests.add(
            {
                "id": new_id("rql", 20),
                "tenant_id": tenant_id,
                "created_at": utcnow(),
                "method": method[:16],
                "path": path[:2000],
                "status": status,
                "response_ms": round(response_ms, 3),
                "user_agent": user_agent[:300] if user_agent else None,
                "client_address": client_address[:64] if client_address else None,
                "request_id": request_id[:128],
            }
        )

    def error(self, record: logging.LogRecord) -> None:
        stack = None
        if record.exc_info and record.exc_info[0] is not None:
            stack = self._redact("".join(traceback.format_exception(*record.exc_info)))
        request_id = getattr(record, "request_id", None)
        self._errors.add(
            {
                "id": new_id("erl", 20),
                "created_at": utcnow(),
                "level": record.levelname.lower(),
                "message": self._redact(record.getMessage())[:10_000],
                "stack_trace": stack[-20_000:] if stack else None,
                "component": _component(record.name),
                "request_id": request_id if request_id not in (None, "-") else None,
            }
        )

    async def start(self) -> None:
        await self._requests.start()
        await self._errors.start()
        logging.getLogger("menagerie").addHandler(self.handler)
        if self._pruner is None:
            self._pruner = asyncio.create_task(self._prune_loop(), name="logbook-prune")

    async def stop(self) -> None:
        logging.getLogger("menagerie").removeHandler(self.handler)
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
            self._pruner = None
        await self._requests.stop()
        await self._errors.stop()

    # -- reading ------------------------------------------------------------------------------

    async def requests(
        self,
        principal: Principal,
        *,
        limit: int = 100,
        offset: int = 0,
        since: datetime | None = None,
        status_class: int | None = None,
        path: str | None = None,
    ) -> list[RequestLog]:
        """The newest requests the caller's tenant made (its admins only), and for the
        server's operator also those made without a credential. `status_class` 4 keeps the
        4xx answers; `path` keeps the paths that contain it."""
        principal.require_admin("reading the request log")
        check_page(limit, offset, MAX_LIST)
        if status_class is not None and not 1 <= status_class <= 5:
            raise Invalid(
                "The status class must be one of 1xx, 2xx, 3xx, 4xx or 5xx.",
                field="status_class",
                received=status_class,
                expected="1-5",
            )
        await self._requests.flush()
        tenants = RequestLogRow.tenant_id == principal.tenant_id
        if self._is_operator(principal):
            tenants = tenants | RequestLogRow.tenant_id.is_(None)
        query = select(RequestLogRow).where(tenants)
        if since is not None:
            query = query.where(RequestLogRow.created_at >= since)
        if status_class is not None:
            low = status_class * 100
            query = query.where(RequestLogRow.status >= low, RequestLogRow.status < low + 100)
        if path:
            # a literal piece of the path: `%` and `_` typed by the reader match themselves
            query = query.where(RequestLogRow.path.contains(path, autoescape=True))
        query = query.order_by(RequestLogRow.created_at.desc(), RequestLogRow.id)
        query = query.offset(offset).limit(limit)
        async with self._db.session() as session:
            rows = (await session.scalars(query)).all()
        return [
            RequestLog(
                r.created_at,
                r.method,
                r.path,
                r.status,
                r.response_ms,
                r.user_agent,
                r.client_address,
                r.request_id,
            )
            for r in rows
        ]

    async def errors(
        self,
        principal: Principal,
        *,
        level: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[ErrorLog]:
        """The newest warnings and errors: the server operator's alone."""
        principal.require_admin("reading the error log")
        if not self._is_operator(principal):
            return []  # server-wide records: no other tenant's admin sees them
        check_page(limit, offset, MAX_LIST)
        await self._errors.flush()
        query = select(ErrorLogRow)
        if level is not None:
            query = query.where(ErrorLogRow.level == level)
        query = query.order_by(ErrorLogRow.created_at.desc(), ErrorLogRow.id)
        query = query.offset(offset).limit(limit)
        async with self._db.session() as session:
            rows = (await session.scalars(query)).all()
        return [
            ErrorLog(r.created_at, r.level, r.message, r.stack_trace, r.component, r.request_id)
            for r in rows
        ]

    def _is_operator(self, principal: Principal) -> bool:
        return principal.is_admin and principal.tenant_id == self._operator_tenant

    # -- retention ----------------------------------------------------------------------------

    async def prune(self) -> None:
        """Drop what is older than the retention, then all but the newest `max_rows`."""
        cutoff = utcnow() - self._retention
        async with self._db.session() as session:
            for table in (RequestLogRow, ErrorLogRow):
                await session.execute(delete(table).where(table.created_at < cutoff))
                oldest_kept = await session.scalar(
                    select(table.created_at)
                    .order_by(table.created_at.desc())
                    .offset(self._max_rows - 1)
                    .limit(1)
                )
                if oldest_kept is not None:
                    await session.execute(delete(table).where(table.created_at < oldest_kept))

    async def _prune_loop(self) -> None:
        while True:
            await asyncio.sleep(PRUNE_EVERY_S)
            try:
                await self.prune()
            except Exception:
                log.warning("pruning the operations logs failed; will retry", exc_info=True)


def _component(logger: str) -> str:
    """`menagerie.core.tools.session` -> `tools`; `menagerie.http` -> `http`."""
    parts = logger.split(".")
    if parts[:2] == ["menagerie", "core"] and len(parts) > 2:
        return parts[2]
    return parts[1] if len(parts) > 1 else parts[0]


class LogbookHandler(logging.Handler):
    """Every warning and error of Menagerie's loggers into the logbook."""

    def __init__(self, logbook: Logbook) -> None:
        super().__init__(logging.WARNING)
        self._logbook = logbook

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("menagerie.storage.batches"):
            return  # the logbook's own writer failing must not feed itself
        try:
            self._logbook.error(record)
        except Exception:  # a log record must never break what logged it
            self.handleError(record)
