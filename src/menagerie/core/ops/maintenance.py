"""Maintenance mode: the operator takes services down for a while, server-wide.

The state (on or off, a message, the services it affects, when it began and when they are
expected back) is one row of the database, so that every replica and a restarted server see
it. Each process keeps it cached, reads it again at most every `refresh_s` seconds, and at
once when a change is published on the bus (`MaintenanceChanged`), which the socket.io
surfaces also deliver to their clients. While it is on, `check(service)` raises
`Unavailable(reason="MAINTENANCE")` for an affected service.

Maintenance concerns the whole server, so only the operator may switch it: an admin of the
default tenant, or whoever runs the `menagerie maintenance` command on the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

from menagerie.core.clock import iso, utcnow
from menagerie.core.errors import Forbidden, Unavailable
from menagerie.core.events import EventBus
from menagerie.core.events.typed import TypedEvent
from menagerie.core.identity.models import Principal
from menagerie.core.ops.tables import MaintenanceRow
from menagerie.storage.database import Database

log = logging.getLogger(__name__)
MAINTENANCE_TOPIC = "ops.maintenance"
ROW_ID = "server"
OPERATOR = "operator"  # who switched it from the command line


@dataclasses.dataclass(frozen=True, slots=True)
class MaintenanceState:
    active: bool = False
    message: str = ""
    affected_services: tuple[str, ...] = ()  # empty: every service
    started_at: datetime | None = None
    estimated_return: datetime | None = None

    def affects(self, service: str) -> bool:
        return self.active and (not self.affected_services or service in self.affected_services)


@dataclasses.dataclass(frozen=True, slots=True)
class MaintenanceChanged(TypedEvent):
    """Maintenance was switched on or off (or its details changed)."""

    topic: ClassVar[str] = MAINTENANCE_TOPIC

    tenant_id: str  # the operator's tenant; the change concerns every tenant
    active: bool
    message: str
    affected_services: tuple[str, ...]
    started_at: datetime | None
    estimated_return: datetime | None
    changed_by: str
    at: datetime

    @property
    def state(self) -> MaintenanceState:
        return MaintenanceState(
            self.active,
            self.message,
            tuple(self.affected_services),
            self.started_at,
            self.estimated_return,
        )


class Maintenance:
    def __init__(
        self,
        database: Database,
        events: EventBus,
        *,
        operator_tenant: str,
        refresh_s: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._database = database
        self._events = events
        self._operator_tenant = operator_tenant
        self._refresh_s = refresh_s
        self._clock = clock
        self._state = MaintenanceState()
        self._read_at: float | None = None  # when the cache was last read from the database
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def cached(self) -> MaintenanceState:
        return self._state

    async def current(self) -> MaintenanceState:
        """The state, from the cache when it was read less than `refresh_s` ago."""
        now = self._clock()
        if self._read_at is not None and now - self._read_at < self._refresh_s:
            return self._state
        async with self._lock:
            if self._read_at is None or self._clock() - self._read_at >= self._refresh_s:
                await self.reload()
        return self._state

    async def reload(self) -> MaintenanceState:
        async with self._database.session() as session:
            row = await session.get(MaintenanceRow, ROW_ID)
        self._state = _state_of(row)
        self._read_at = self._clock()
        return self._state

    async def check(self, service: str) -> None:
        """Raises `Unavailable(reason="MAINTENANCE")` while maintenance affects `service`."""
        state = await self.current()
        if state.affects(service):
            raise Unavailable(
                state.message or "The service is down for maintenance",
                service=service,
                reason="MAINTENANCE",
                details={
                    "status": "maintenance",
                    "estimated_return": iso(state.estimated_return),
                },
            )

    async def switch(
        self,
        principal: Principal,
        *,
        enabled: bool,
        message: str = "",
        affected_services: Iterable[str] = (),
        estimated_return: datetime | None = None,
    ) -> MaintenanceState:
        """An admin of the operator's tenant turns maintenance on or off."""
        principal.require_admin("switching maintenance mode")
        if principal.tenant_id != self._operator_tenant:
            raise Forbidden(
                "maintenance concerns the whole server: only the operator's admins switch it",
                reason="OPERATOR_REQUIRED",
            )
        return await self.set(
            enabled=enabled,
            message=message,
            affected_services=affected_services,
            estimated_return=estimated_return,
            changed_by=principal.user_id,
        )

    async def set(
        self,
        *,
        enabled: bool,
        message: str = "",
        affected_services: Iterable[str] = (),
        estimated_return: datetime | None = None,
        changed_by: str = OPERATOR,
    ) -> MaintenanceState:
        """Store and publish the state; the operator at the console (the CLI) calls it."""
        services = tuple(dict.fromkeys(s.strip() for s in affected_services if s.strip()))
        if estimated_return is not None and estimated_return.tzinfo is None:
            estimated_return = estimated_return.replace(tzinfo=UTC)  # a time without offset
        now = utcnow()
        async with self._database.session() as session:
            row = await session.get(MaintenanceRow, ROW_ID)
            if row is None:
                row = MaintenanceRow(id=ROW_ID, started_at=None)
                session.add(row)
            was_active = bool(row.active)
            row.active = enabled
            row.message = message if enabled else ""
            row.affected_services = list(services) if enabled else []
            row.started_at = (row.started_at if was_active else now) if enabled else None
            row.estimated_return = estimated_return if enabled else None
            row.updated_at = now
            row.updated_by = changed_by
            state = _state_of(row)
        self._state, self._read_at = state, self._clock()
        event = MaintenanceChanged(
            tenant_id=self._operator_tenant,
            active=state.active,
            message=state.message,
            affected_services=state.affected_services,
            started_at=state.started_at,
            estimated_return=state.estimated_return,
            changed_by=changed_by,
            at=now,
        )
        await self._events.publish(MAINTENANCE_TOPIC, _jsonable(event.to_payload()))
        log.warning(
            "maintenance %s by %s: %s",
            "on" if state.active else "off",
            changed_by,
            state.message or "-",
        )
        return state

    async def start(self) -> None:
        """Follow changes published by other replicas (and the CLI, over Redis)."""
        if self._task is None:
            subscription = await self._events.subscribe(MAINTENANCE_TOPIC)
            self._task = asyncio.create_task(self._follow(subscription), name="maintenance")
            with contextlib.suppress(Exception):  # the database may still be migrating
                await self.reload()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _follow(self, subscription: Any) -> None:
        async for event in subscription:
            try:
                self._state = MaintenanceChanged.from_payload(event.payload).state
                self._read_at = self._clock()
            except Exception:
                log.warning("unreadable maintenance event; reading the database", exc_info=True)
                self._read_at = None


def _state_of(row: MaintenanceRow | None) -> MaintenanceState:
    if row is None or not row.active:
        return MaintenanceState()
    return MaintenanceState(
        True,
        row.message,
        tuple(row.affected_services or ()),
        row.started_at,
        row.estimated_return,
    )


def _jsonable(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in payload.items()}
