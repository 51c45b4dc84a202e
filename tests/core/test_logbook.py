"""The operations logbook: requests and errors persisted, read only by those who may, kept
only as long as told, secrets never stored."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select, update

from menagerie.core.clock import utcnow
from menagerie.core.errors import Forbidden
from menagerie.core.identity.models import Principal
from menagerie.core.ops.logbook import Logbook
from menagerie.core.ops.tables import ErrorLogRow, RequestLogRow
from menagerie.platform import Platform
from tests.utils.principals import admin, other_tenant

MASTER_KEY = "test-master-key-0123456789abcdef"  # conftest's, so the redactor knows it


def logbook_of(platform: Platform) -> Logbook:
    assert platform.logbook is not None
    return platform.logbook


def request(book: Logbook, tenant: str | None, path: str, status: int = 200) -> None:
    book.request(
        tenant_id=tenant,
        method="GET",
        path=path,
        status=status,
        response_ms=1.5,
        user_agent="pytest/" + "x" * 400,
        client_address="127.0.0.1",
        request_id=f"req_{path.strip('/').replace('/', '_')}",
    )


async def test_requests_are_read_by_their_tenants_admins(started: Platform) -> None:
    book = logbook_of(started)
    operator = admin(started)
    acme = await other_tenant(started)
    request(book, operator.tenant_id, "/gary/api/users")
    request(book, acme.tenant_id, "/gary/api/users/42", status=404)
    request(book, None, "/podplay/api/health")

    mine = await book.requests(operator)
    assert [r.path for r in mine] == ["/podplay/api/health", "/gary/api/users"]
    theirs = await book.requests(acme)
    assert [(r.path, r.status) for r in theirs] == [("/gary/api/users/42", 404)]
    assert len(theirs[0].user_agent or "") == 300
    assert (theirs[0].client_address, theirs[0].response_ms) == ("127.0.0.1", 1.5)
    assert len(await book.requests(operator, limit=1)) == 1
    assert await book.requests(operator, since=utcnow()) == []
    with pytest.raises(Forbidden):
        await book.requests(Principal(operator.tenant_id, "usr_plain", frozenset()))


async def test_errors_are_the_operators_redacted_with_their_stack(started: Platform) -> None:
    book = logbook_of(started)
    log = logging.getLogger("menagerie.core.tools.session")
    try:
        raise RuntimeError(f"the server said no to {MASTER_KEY}")
    except RuntimeError:
        log.error("calling the tool failed (key %s)", MASTER_KEY, exc_info=True)
    log.warning("a slow answer")
    logging.getLogger("menagerie.core.tools.session").info("not kept: below warning")

    errors = await book.errors(admin(started))
    assert [(e.level, e.component) for e in errors] == [("warning", "tools"), ("error", "tools")]
    failed = errors[1]
    assert failed.message.startswith("calling the tool failed")
    assert "RuntimeError" in (failed.stack_trace or "")
    assert MASTER_KEY not in failed.message
    assert MASTER_KEY not in (failed.stack_trace or "")
    assert [e.level for e in await book.errors(admin(started), level="error")] == ["error"]
    # server-wide records: another tenant's admin sees none of them
    assert await book.errors(await other_tenant(started)) == []


async def test_old_and_surplus_rows_are_pruned(started: Platform) -> None:
    book = Logbook(started.database, started.redactor, operator_tenant="default", max_rows=100)
    for n in range(130):
        request(book, "default", f"/p/{n}")
    await book.requests(admin(started))  # flushes
    async with started.database.session() as session:
        await session.execute(
            update(RequestLogRow)
            .where(RequestLogRow.path == "/p/0")
            .values(created_at=utcnow().replace(year=2000))
        )
    await book.prune()
    async with started.database.session() as session:
        count = await session.scalar(select(func.count()).select_from(RequestLogRow))
        kept_first = await session.scalar(select(func.count()).where(RequestLogRow.path == "/p/0"))
        errors = await session.scalar(select(func.count()).select_from(ErrorLogRow))
    assert count is not None
    assert count <= 100
    assert kept_first == 0
    assert errors is not None
    await book.stop()
