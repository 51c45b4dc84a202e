"""PodPlay's socket.io events (seed 000 "WebSocket Events"): connect with `auth: {token}` or
`?token=`, `mama_bear_message` answered by `mama_bear_response`, `typing_indicator` relayed
to the other clients in the same chat session. Served by the hub (realtime/hub.py) at the
server's root, on the `/podplay` namespace and at `/podplay/socket.io`."""

from __future__ import annotations

import logging
from typing import Any

from menagerie.core.agents.runtime import TurnRequest
from menagerie.core.clock import iso, utcnow
from menagerie.core.errors import Invalid, MenagerieError
from menagerie.core.events.bus import Event
from menagerie.core.ops.alerts import ALERT_TOPIC
from menagerie.core.tools.service import PROGRESS_TOPIC, STATUS_TOPIC
from menagerie.dialects.podplay.chat import AGENT
from menagerie.dialects.podplay.envelope import PodPlayEnvelope
from menagerie.platform import Platform
from menagerie.realtime import podplay_mcp, system_alerts
from menagerie.realtime.hub import Connection, Handler, Hub, Refused, principal_for
from menagerie.realtime.relay import BusRelay, tenant_room

log = logging.getLogger(__name__)
ENVELOPE = PodPlayEnvelope()
SERVICES = {
    "mama_bear": True,
    "marketplace": True,
    "real_time_chat": True,
    "terminal_sessions": False,
}


def _failure(error: MenagerieError) -> dict[str, Any]:
    """An error as the envelope spells it: a seed code, the precise reason in details."""
    code = ENVELOPE.code_for(error)
    reason = ENVELOPE.reason_of(error, code)
    return {
        "error": error.message,
        "error_code": code,
        "details": {"reason": reason} if reason else {},
    }


class PodPlaySurface:
    """Seed 000's events, on whichever namespace and path the client came through."""

    name = "podplay"

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self.handlers: dict[str, Handler] = {
            "mama_bear_message": self._mama_bear_message,
            "typing_indicator": self._typing_indicator,
        }

    async def connect(self, connection: Connection, auth: Any) -> None:
        try:
            principal = await principal_for(self._platform.identity, connection.environ, auth)
        except MenagerieError as error:
            raise Refused(error.message, _failure(error)) from None
        connection.principal = principal
        await connection.join(tenant_room(principal.tenant_id))
        await connection.emit(
            "connected",
            {
                "status": "success",
                "message": "Connected to Podplay Sanctuary",
                "client_id": connection.sid,
                "timestamp": iso(utcnow()),
                "services": SERVICES,
            },
        )

    async def _mama_bear_message(self, connection: Connection, data: Any) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("message"), str):
            invalid = Invalid("message is required", field="message", expected="a string")
            await connection.emit("mama_bear_response", {"success": False, **_failure(invalid)})
            return
        caller = connection.user.acting_for(data.get("user_id"))
        context = data.get("context") if isinstance(data.get("context"), dict) else {}
        session_id = data.get("session_id") if isinstance(data.get("session_id"), str) else None
        if session_id:
            await connection.join(f"session:{caller.tenant_id}:{session_id}")
        try:
            done = await self._platform.agents.complete(
                caller,
                TurnRequest(
                    agent=AGENT, message=data["message"], session_id=session_id, context=context
                ),
            )
        except MenagerieError as error:
            await connection.emit("mama_bear_response", {"success": False, **_failure(error)})
            return
        agent = self._platform.agents.catalog.get(AGENT)
        await connection.emit(
            "mama_bear_response",
            {
                "success": True,
                "response": done.message.content,
                "message_id": done.message.id,
                "session_id": done.message.session_id,
                "model_used": done.model,
                "timestamp": iso(done.message.created_at),
                "suggestions": agent.suggestions,
            },
        )

    async def _typing_indicator(self, connection: Connection, data: Any) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("session_id"), str):
            return
        principal = connection.user
        room = f"session:{principal.tenant_id}:{data['session_id']}"
        await connection.join(room)
        await connection.emit_room(
            room,
            "typing_indicator",
            {
                "user_id": data.get("user_id") or principal.user_id,
                "session_id": data["session_id"],
                "typing": bool(data.get("typing")),
            },
        )

    def relay(self, hub: Hub) -> BusRelay:
        """MCP status and installation progress, and system alerts (the operator's), to the
        tenant's PodPlay clients."""

        async def deliver(tenant_id: str, event: str, payload: dict[str, Any]) -> None:
            await hub.emit_local(self.name, tenant_room(tenant_id), event, payload)

        def shape(event: Event) -> dict[str, Any] | None:
            if event.topic == ALERT_TOPIC:
                return system_alerts.podplay(event)
            return podplay_mcp.shape(event)

        return BusRelay(
            self._platform.events,
            deliver,
            {
                STATUS_TOPIC: "mcp_server_status",
                PROGRESS_TOPIC: "mcp_installation_progress",
                ALERT_TOPIC: "system_alert",
            },
            shape=shape,
        )
