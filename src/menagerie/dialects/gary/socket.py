"""Crazy Gary's socket.io connection (seed 004 "WebSocket Support").

The seed documents `<base>/socket.io/?token=<jwt>` and `io(base, {auth: {token}})`; both are
served by the hub (realtime/hub.py) at `/gary/socket.io`, on the `/gary` namespace and, with
`--dialect gary`, at the server's root. A connection joins its tenant's room and its user's,
where Gary's events are delivered: `system_alert` (to the operator's tenant), `health_status`
(to the operator's admins, who alone may read the server's health), `task_update` (to the
task's owner) and `orchestration_update` (to the orchestration's owner); the seed defines no
event a client sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from menagerie.core.clock import iso, utcnow
from menagerie.core.errors import MenagerieError
from menagerie.core.events.bus import Event
from menagerie.core.ops.alerts import ALERT_TOPIC
from menagerie.core.ops.health_watch import HEALTH_TOPIC, HealthChanged
from menagerie.dialects.gary.envelope import GaryEnvelope
from menagerie.platform import Platform
from menagerie.realtime import gary_orchestration, gary_tasks, system_alerts
from menagerie.realtime.hub import Connection, Handler, Hub, Refused, principal_for
from menagerie.realtime.relay import AUDIENCE, BusRelay, tenant_room, user_room

ENVELOPE = GaryEnvelope()
HEALTH_STATUS = "health_status"


def admins_room(tenant_id: str) -> str:
    return f"admins:{tenant_id}"


def health_status(event: Event) -> dict[str, Any]:
    """The seed names `health_status` ("System health status change") without a payload:
    the dashboard's `health` summary (`GET /api/monitoring/health/dashboard`), with what it
    was before, each component's status and which changed (docs/contract.md)."""
    change = HealthChanged.from_payload(event.payload)
    return {
        "status": change.status,
        "service": "crazy-gary",
        "timestamp": iso(change.timestamp),
        "previous_status": change.previous_status,
        "components": dict(change.components),
        "changed": list(change.changed),
    }


def _shape(event: Event) -> dict[str, Any] | None:
    if event.topic == HEALTH_TOPIC:
        return health_status(event)
    if event.topic in gary_tasks.EVENT_NAMES:
        return gary_tasks.task_update(event)
    if event.topic in gary_orchestration.EVENT_NAMES:
        return gary_orchestration.orchestration_update(event)
    return system_alerts.gary(event)


class GarySurface:
    name = "gary"
    handlers: Mapping[str, Handler] = {}

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    async def connect(self, connection: Connection, auth: Any) -> None:
        try:
            principal = await principal_for(self._platform.identity, connection.environ, auth)
        except MenagerieError as error:
            code = ENVELOPE.code_for(error)
            reason = ENVELOPE.reason_of(error, code)
            body = {
                "error": error.message,
                "code": code,
                "details": {"reason": reason} if reason else {},
                "timestamp": iso(utcnow()),
            }
            raise Refused(error.message, body) from None
        connection.principal = principal
        await connection.join(tenant_room(principal.tenant_id))
        await connection.join(user_room(principal.tenant_id, principal.user_id))
        if principal.is_admin:
            await connection.join(admins_room(principal.tenant_id))

    def relay(self, hub: Hub) -> BusRelay:
        """System alerts (the operator's) to the tenant's Crazy Gary clients; health changes
        to its admins; a task's or an orchestration's updates to its owner."""

        async def deliver(tenant_id: str, event: str, payload: dict[str, Any]) -> None:
            audience = payload.pop(AUDIENCE, None)
            room = (
                user_room(*audience)
                if audience is not None
                else admins_room(tenant_id)
                if event == HEALTH_STATUS
                else tenant_room(tenant_id)
            )
            await hub.emit_local(self.name, room, event, payload)

        return BusRelay(
            self._platform.events,
            deliver,
            {
                ALERT_TOPIC: "system_alert",
                HEALTH_TOPIC: HEALTH_STATUS,
                **gary_tasks.EVENT_NAMES,
                **gary_orchestration.EVENT_NAMES,
            },
            shape=_shape,
        )
