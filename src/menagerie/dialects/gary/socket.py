"""Crazy Gary's socket.io connection (seed 004 "WebSocket Support").

The seed documents `<base>/socket.io/?token=<jwt>` and `io(base, {auth: {token}})`; both are
served by the hub (realtime/hub.py) at `/gary/socket.io`, on the `/gary` namespace and, with
`--dialect gary`, at the server's root. A connection joins its tenant's room, where Gary's
events (`task_update`, `orchestration_update`, `system_alert`, `health_status`) are delivered
as the capabilities that emit them land; the seed defines no event a client sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from menagerie.core.clock import iso, utcnow
from menagerie.core.errors import CredentialsMissing, MenagerieError
from menagerie.dialects.gary.envelope import GaryEnvelope
from menagerie.platform import Platform
from menagerie.realtime.hub import Connection, Handler, Refused, token_of
from menagerie.realtime.relay import tenant_room

ENVELOPE = GaryEnvelope()


class GarySurface:
    name = "gary"
    handlers: Mapping[str, Handler] = {}

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    async def connect(self, connection: Connection, auth: Any) -> None:
        identity = self._platform.identity
        token = token_of(connection.environ, auth)
        try:
            if token:
                principal = await identity.authenticate_bearer(token)
            elif identity.dev_mode:
                principal = identity.dev_principal()
            else:
                raise CredentialsMissing("authentication required: connect with ?token=<jwt>")
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
