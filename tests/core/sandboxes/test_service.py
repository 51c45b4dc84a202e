"""The sandbox service on a started platform (SQLite and PostgreSQL): idle stop, reclaim and
CANNOT_RESTART, the usage ledger and runtime limit, the weak backend's refusal for other
tenants, environments sealed at rest, status events with progress."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text, update

from menagerie.core.clock import utcnow
from menagerie.core.errors import Conflict, Invalid, LimitReached, Unavailable
from menagerie.core.identity.models import Principal
from menagerie.core.sandboxes.backends.base import BackendStatus
from menagerie.core.sandboxes.events import STATUS_TOPIC, SandboxStatusChanged
from menagerie.core.sandboxes.models import SandboxRequest
from menagerie.core.sandboxes.tables import SandboxRow
from menagerie.platform import Platform

ALICE = Principal("default", "alice", frozenset({"user"}))


async def _ensure_tenant(platform: Platform, tenant: str) -> None:
    # the tenants row the sandboxes' foreign key needs (vault and sign-up flows make it)
    async with platform.database.session() as session:
        await session.execute(
            text(
                "INSERT INTO tenants (id, name, created_at) VALUES (:id, :id, :now) "
                "ON CONFLICT DO NOTHING"
            ),
            {"id": tenant, "now": utcnow()},
        )


async def test_idle_sandboxes_stop_and_old_ones_terminate(started: Platform) -> None:
    service = started.sandboxes
    sandbox = await service.create(ALICE, SandboxRequest(name="idle", timeout_minutes=1))
    await service.start_sandbox(ALICE, sandbox.id)
    assert await service.stop_idle() == []  # active just now
    async with started.database.session() as session:
        await session.execute(
            update(SandboxRow)
            .where(SandboxRow.id == sandbox.id)
            .values(last_activity_at=utcnow() - timedelta(minutes=2))
        )
    assert await service.stop_idle() == [sandbox.id]
    stopped = await service.get(ALICE, sandbox.id)
    assert stopped.status == "stopped"
    assert stopped.total_runtime_seconds >= 0

    async with started.database.session() as session:
        await session.execute(
            update(SandboxRow)
            .where(SandboxRow.id == sandbox.id)
            .values(stopped_at=utcnow() - timedelta(days=30))
        )
    assert await service.reclaim() == [sandbox.id]
    assert (await service.get(ALICE, sandbox.id)).status == "terminated"
    with pytest.raises(Conflict) as refused:
        await service.start_sandbox(ALICE, sandbox.id)
    assert refused.value.reason == "CANNOT_RESTART"


async def test_usage_ledger_and_runtime_limit(started: Platform) -> None:
    service = started.sandboxes
    sandbox = await service.create(ALICE, SandboxRequest(name="counted"))
    await service.start_sandbox(ALICE, sandbox.id)
    await service.execute(ALICE, sandbox.id, "echo one")
    await service.execute(ALICE, sandbox.id, "echo two")
    stopped = await service.stop_sandbox(ALICE, sandbox.id)
    report = await service.usage(ALICE)
    assert report.total_executions == 2
    assert report.total_sandboxes_created == 1
    assert report.runtime_hours == pytest.approx(stopped.runtime_seconds / 3600, abs=1e-3)

    # a ledger full for this month: the next start is refused with the tier's limit
    limit = service.settings.limits.max_runtime_hours
    async with started.database.session() as session:
        await session.execute(
            text(
                "INSERT INTO sandbox_usage (id, tenant_id, sandbox_id, kind, quantity, at) "
                "VALUES ('sbu_full', 'default', :sid, 'runtime', :seconds, :now)"
            ),
            {"sid": sandbox.id, "seconds": limit * 3600, "now": utcnow()},
        )
    with pytest.raises(LimitReached) as refused:
        await service.start_sandbox(ALICE, sandbox.id)
    assert refused.value.reason == "RUNTIME_LIMIT_REACHED"
    assert (await service.usage(ALICE)).limit_exceeded is True


async def test_a_weak_backend_serves_only_the_operators_tenant(started: Platform) -> None:
    service = started.sandboxes
    service._backend_status = BackendStatus("process", True, "weak", "rlimits only")
    await _ensure_tenant(started, "acme")
    other = Principal("acme", "bob", frozenset({"user"}))
    with pytest.raises(Unavailable) as refused:
        await service.create(other, SandboxRequest(name="weak"))
    assert refused.value.reason == "SANDBOX_BACKEND_WEAK"
    assert (await service.create(ALICE, SandboxRequest(name="operator's"))).status == "pending"


async def test_environment_is_sealed_at_rest(started: Platform) -> None:
    secret = "sk-live-sandbox-secret-value-123"
    sandbox = await started.sandboxes.create(
        ALICE, SandboxRequest(name="env", environment={"API_KEY": secret})
    )
    async with started.database.session() as session:
        stored = (
            await session.execute(
                text("SELECT environment_sealed FROM sandboxes WHERE id = :id"),
                {"id": sandbox.id},
            )
        ).scalar_one()
    assert secret not in stored
    assert sandbox.config.environment == {"API_KEY": secret}
    await started.sandboxes.start_sandbox(ALICE, sandbox.id)
    shown = await started.sandboxes.execute(ALICE, sandbox.id, "node -p process.env.API_KEY")
    assert shown.stdout.strip() == secret  # the sandbox itself sees its own variable


async def test_status_events_carry_progress(started: Platform) -> None:
    subscription = await started.events.subscribe(STATUS_TOPIC)
    sandbox = await started.sandboxes.create(ALICE, SandboxRequest(name="events"))
    await started.sandboxes.start_sandbox(ALICE, sandbox.id)
    seen: list[SandboxStatusChanged] = []
    while not seen or seen[-1].status != "running":
        event = await subscription.get(within=5)
        assert event is not None, seen
        seen.append(SandboxStatusChanged.from_payload(event.payload))
    assert seen[0].status == "starting"
    assert [e.progress for e in seen] == sorted(e.progress for e in seen)
    assert seen[-1].progress == 100
    assert "Preparing the workspace" in seen[-1].logs
    await started.events.unsubscribe(subscription)


async def test_reading_a_directory_or_an_escape_is_a_clear_error(started: Platform) -> None:
    service = started.sandboxes
    sandbox = await service.create(ALICE, SandboxRequest(name="reads"))
    await service.start_sandbox(ALICE, sandbox.id)
    for path in (".", "/vercel/sandbox", "../outside", "/etc/passwd", "missing.txt"):
        with pytest.raises(Invalid) as refused:
            await service.read_file(ALICE, sandbox.id, path)
        assert refused.value.field == "path"
