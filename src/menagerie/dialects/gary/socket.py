"""Crazy Gary's socket.io connection (seed 004 "WebSocket Support").

The seed documents `<base>/socket.io/?token=<jwt>` and `io(base, {auth: {token}})`; both are
served by the hub (realtime/hub.py) at `/gary/socket.io`, on the `/gary` namespace and, with
`--dialect gary`, at the server's root. A connection joins its tenant's room, where Gary's
events are delivered: `system_alert` now (to the operator's tenant), `task_update`,
`orchestration_update` and `health_status` as the capabilities that emit them land; the seed
defines no event a client sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from menagerie.core.clock import iso, utcnow
from menagerie.core.errors import MenagerieError
from menagerie.core.ops.alerts import ALERT_TOPIC
from menagerie.dialects.gary.envelope import GaryEnvelope
from menagerie.platform import Platform
from menagerie.realtime import system_alerts
from menagerie.realtime.hub import Connection, Handler, Hub, Refused, principal_for
from menagerie.realtime.relay import BusRelay, tenant_room

ENVELOPE = GaryEnvelope()


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

    def relay(self, hub: Hub) -> BusRelay:
        """System alerts (the operator's) to the tenant's Crazy Gary clients."""

        async def deliver(tenant_id: str, event: str, payload: dict[str, Any]) -> None:
            await hub.emit_local(self.name, tenant_room(tenant_id), event, payload)

        return BusRelay(
            self._platform.events,
            deliver,
            {ALERT_TOPIC: "system_alert"},
            shape=system_alerts.gary,
        )
